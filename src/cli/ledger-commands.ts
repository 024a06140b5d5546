import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import stringWidth from 'string-width';
import { AttemptOutcome, attemptOutcomeToJSON } from '../gen/orchestrator/v1/common.js';
import { codeToJSON } from '../gen/google/rpc/code.js';
import { ChatServiceService } from '../gen/orchestrator/v1/chat.js';
import { EmbeddingServiceService } from '../gen/orchestrator/v1/embedding.js';
import {
  GetUsageResponse,
  ListCallsResponse,
  UsageGroup,
  UsageServiceClient,
  type UsageFilter,
  type UsageRow,
} from '../gen/orchestrator/v1/usage.js';
import {
  addrOption,
  apiKeyOption,
  COMMON_OPTIONS,
  DEFAULT_TIMEOUT_MS,
  LEDGER_COMMANDS,
  OPTIONS,
  listOption,
  parseDuration,
  parseTimeout,
  tlsOptions,
  UsageError,
} from './args.js';
import { type ChannelSettings, channelSettings, isServiceError } from './connection.js';
import { describeError } from './errors.js';
import { CHAT_COMPLETIONS_PATH, CHAT_COMPLETIONS_STREAM_PATH } from '../http/routes/chat-paths.js';

/**
 * `llm-orchestrator usage` and `llm-orchestrator calls`: the ledger (UsageService) as tables.
 *
 *   llm-orchestrator usage --group-by key,model --since 7d
 *   llm-orchestrator calls --key alice --limit 20
 */
export const LEDGER_USAGE = `usage: llm-orchestrator usage [--group-by key,model,provider,method,day,hour] [filters]
       llm-orchestrator calls [--limit N] [--request-id ID] [--failed] [filters]

Filters: --since DURATION (e.g. 24h, 7d; default: everything), --key NAME, -m, --model ID,
         --provider NAME, --method NAME (as calls shows it: Chat, Embed, ...; or its full path)
Options: --addr HOST:PORT (env LLMO_ADDR), --api-key KEY (env LLMO_API_KEY), --tls, --ca-file PATH,
         --cert-file PATH --key-file PATH (mTLS), --json, --timeout DURATION (default 60s)`;

const GROUPS: Readonly<Record<string, UsageGroup>> = {
  key: UsageGroup.USAGE_GROUP_KEY,
  model: UsageGroup.USAGE_GROUP_MODEL,
  provider: UsageGroup.USAGE_GROUP_PROVIDER,
  method: UsageGroup.USAGE_GROUP_METHOD,
  day: UsageGroup.USAGE_GROUP_DAY,
  hour: UsageGroup.USAGE_GROUP_HOUR,
};

/** Whether the command line runs `usage` or `calls`, wherever options stand around the command. */
export function isLedgerCommand(argv: readonly string[]): boolean {
  // Every option of both kinds of command is known here, so an option's value is not taken for the command.
  const { positionals } = parseArgs({
    args: [...argv],
    options: { ...LEDGER_OPTIONS, ...OPTIONS },
    strict: false,
    allowPositionals: true,
  });
  return LEDGER_COMMANDS.some((c) => c === positionals[0]);
}

export const LEDGER_OPTIONS = {
  ...COMMON_OPTIONS,
  'group-by': { type: 'string', default: '' },
  since: { type: 'string' },
  key: { type: 'string', default: '' },
  model: { type: 'string', short: 'm', default: '' },
  provider: { type: 'string', default: '' },
  method: { type: 'string', default: '' },
  limit: { type: 'string', default: '20' },
  'request-id': { type: 'string', default: '' },
  failed: { type: 'boolean', default: false },
} satisfies NonNullable<ParseArgsConfig['options']>;

/**
 * The options only one of the two commands sends. The other refuses them rather than ignore them:
 * `usage --failed`, ignored, would print the totals of every call, failed or not, to a caller who asked for the failures.
 */
const COMMAND_OF: Readonly<Record<string, (typeof LEDGER_COMMANDS)[number] | undefined>> = {
  'group-by': 'usage',
  limit: 'calls',
  'request-id': 'calls',
  failed: 'calls',
};

/** Runs `usage` or `calls`; resolves with the exit status (0 ok, 1 call failed, 2 bad usage). */
export async function runLedgerCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; tokens: true; options: typeof LEDGER_OPTIONS }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, tokens: true, options: LEDGER_OPTIONS });
    if (parsed.values.help) {
      out(`${LEDGER_USAGE}\n`);
      return 0;
    }
    const command = parsed.positionals[0];
    if (parsed.positionals.length !== 1) throw new UsageError(`${command} takes no other words`);
    for (const token of parsed.tokens) {
      if (token.kind !== 'option') continue;
      const taker = COMMAND_OF[token.name];
      if (taker && taker !== command) throw new UsageError(`--${token.name} does not apply to ${command} (only to ${taker})`);
    }
  } catch (e) {
    err(`llm-orchestrator: ${e instanceof Error ? e.message : String(e)}\n\n${LEDGER_USAGE}\n`);
    return 2;
  }
  const v = parsed.values;
  let addr: string;
  let filter: UsageFilter;
  let groups: UsageGroup[];
  let limit: number;
  let timeoutMs: number;
  let channel: ChannelSettings;
  let apiKey: string | undefined;
  try {
    addr = addrOption(v.addr, env);
    apiKey = apiKeyOption(v['api-key'], env);
    channel = channelSettings(addr, tlsOptions(v));
    // Calls are recorded to the millisecond: the first one not before the moment counted back to.
    const since = v.since === undefined ? undefined : Math.ceil(Date.now() - parseDuration(v.since, '--since'));
    filter = {
      startTime:
        since === undefined ? undefined : { seconds: Math.floor(since / 1000), nanos: (((since % 1000) + 1000) % 1000) * 1_000_000 },
      keyName: v.key,
      model: v.model,
      provider: v.provider,
      method: methodPath(v.method),
    };
    groups = listOption('--group-by', v['group-by'], 'group (key,model,...)').map((g) => {
      const group = GROUPS[g.toLowerCase()];
      if (group === undefined) throw new UsageError(`--group-by: unknown "${g}" (one of: ${Object.keys(GROUPS).join(', ')})`);
      return group;
    });
    limit = Number(v.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit: a whole number from 1 to 500');
    timeoutMs = v.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(v.timeout);
  } catch (e) {
    err(`llm-orchestrator: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const client = new UsageServiceClient(addr, channel.credentials, channel.options);
  const metadata = new grpc.Metadata();
  if (apiKey) metadata.set('authorization', `Bearer ${apiKey}`);
  const options = { deadline: Date.now() + timeoutMs };
  try {
    if (parsed.positionals[0] === 'usage') {
      // Every page, so the table and --json hold every group as before GetUsage paged.
      const res: GetUsageResponse = { rows: [], nextPageToken: '' };
      let pageToken = '';
      do {
        const request = { filter, groupBy: groups, pageSize: 0, pageToken };
        const page = await new Promise<GetUsageResponse>((resolve, reject) =>
          client.getUsage(request, metadata, options, (e, r) => (e ? reject(e) : resolve(r))),
        );
        res.rows.push(...page.rows);
        pageToken = page.nextPageToken;
      } while (pageToken);
      out(v.json ? `${JSON.stringify(GetUsageResponse.toJSON(res), null, 2)}\n` : usageTable(res, groups));
    } else {
      const request = { filter, requestId: v['request-id'], pageSize: limit, pageToken: '', ...(v.failed ? { successful: false } : {}) };
      const res = await new Promise<ListCallsResponse>((resolve, reject) =>
        client.listCalls(request, metadata, options, (e, r) => (e ? reject(e) : resolve(r))),
      );
      out(v.json ? `${JSON.stringify(ListCallsResponse.toJSON(res), null, 2)}\n` : callsTable(res));
    }
    return 0;
  } catch (e) {
    if (!isServiceError(e)) throw e;
    err(describeError(e));
    return 1;
  } finally {
    client.close();
  }
}

/** The methods the ledger records: the chat calls, through either door, and Embed. */
const LEDGER_METHODS: readonly string[] = [
  ...Object.values(ChatServiceService).map((m) => m.path),
  CHAT_COMPLETIONS_PATH,
  CHAT_COMPLETIONS_STREAM_PATH,
  ...Object.values(EmbeddingServiceService).map((m) => m.path),
];
const methodName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * --method as the filter's full path. The server compares paths exactly, so a name it would not
 * know ("Chat") would list no call at all rather than fail: a name is looked up, in any case,
 * and one of no method refused. A full path goes as is, a newer gateway's methods included.
 */
function methodPath(text: string): string {
  if (text === '' || text.startsWith('/')) return text;
  const path = LEDGER_METHODS.find((p) => methodName(p).toLowerCase() === text.toLowerCase());
  if (path === undefined)
    throw new UsageError(
      `--method: "${text}" is not a method the ledger records (one of: ${LEDGER_METHODS.map(methodName).join(', ')}; or a full path such as ${LEDGER_METHODS[0]})`,
    );
  return path;
}

function usageTable(res: GetUsageResponse, groups: readonly UsageGroup[]): string {
  const head = [
    ...groups.map((g) => Object.keys(GROUPS).find((k) => GROUPS[k] === g) ?? '?'),
    'requests',
    'errors',
    ...TOKEN_COLUMNS,
    'cost_usd',
    'p50_ms',
    'p95_ms',
    'p99_ms',
    'fallback',
    'cache_hit',
    'saved_usd',
  ];
  const rows = res.rows.map((r) => [
    ...groups.map((g) => {
      if (g === UsageGroup.USAGE_GROUP_DAY || g === UsageGroup.USAGE_GROUP_HOUR) {
        const iso = new Date((r.periodStart?.seconds ?? 0) * 1000).toISOString();
        return g === UsageGroup.USAGE_GROUP_DAY ? iso.slice(0, 10) : iso.slice(0, 13).replace('T', ' ') + 'h';
      }
      const value =
        g === UsageGroup.USAGE_GROUP_KEY
          ? r.keyName
          : g === UsageGroup.USAGE_GROUP_MODEL
            ? r.model
            : g === UsageGroup.USAGE_GROUP_PROVIDER
              ? r.provider
              : r.method;
      return value || '-';
    }),
    String(r.requests),
    Object.entries(r.errorsByCode)
      .map(([code, n]) => `${code}:${n}`)
      .join(' ') || '0',
    ...tokenCells(r),
    r.costUsd.toFixed(6),
    ms(r.latency?.p50Ms),
    ms(r.latency?.p95Ms),
    ms(r.latency?.p99Ms),
    pct(r.fallbackRate),
    pct(r.cacheHitRate),
    r.costSavedUsd.toFixed(6),
  ]);
  return table(head, rows);
}

function callsTable(res: ListCallsResponse): string {
  const head = ['time', 'request_id', 'method', 'key', 'model', 'code', ...TOKEN_COLUMNS, 'cost_usd', 'latency_ms', 'attempts'];
  const rows = res.calls.map((c) => [
    c.time ? new Date(c.time.seconds * 1000 + c.time.nanos / 1e6).toISOString().replace('T', ' ').slice(0, 23) : '-',
    c.requestId,
    methodName(c.method),
    c.keyName || '-',
    c.model || c.requestedModel || '-',
    codeAndReason(codeToJSON(c.code), c.reason),
    ...tokenCells(c.usage),
    c.costUsd.toFixed(6),
    ms(c.latencyMs),
    c.attempts
      .map(
        (a) =>
          `${a.model}:${a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS ? 'ok' : attemptOutcomeToJSON(a.outcome).replace('ATTEMPT_OUTCOME_', '').toLowerCase()}${a.lost ? '(lost)' : ''}`,
      )
      .join(',') || (c.cacheHit ? 'cache' : '-'),
  ]);
  return table(head, rows) + (res.nextPageToken ? '(more: raise --limit or narrow the filters)\n' : '');
}

/** Every token, then those of them the prompt cache served and took, and those spent reasoning. */
const TOKEN_COLUMNS = ['tokens', 'cached', 'cache_write', 'reasoning'] as const;
type TokenCounts = Pick<UsageRow, 'totalTokens' | 'cachedTokens' | 'cacheWriteTokens' | 'reasoningTokens'>;
const tokenCells = (u: TokenCounts | undefined): string[] =>
  [u?.totalTokens, u?.cachedTokens, u?.cacheWriteTokens, u?.reasoningTokens].map((n) => String(n ?? 0));

/** CANCELLED and DEADLINE_EXCEEDED are reasons named after their code: printed twice, they read as a stutter. */
const codeAndReason = (code: string, reason: string): string => (reason && reason !== code ? `${code} ${reason}` : code);
const ms = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(1));
const pct = (n: number): string => `${(n * 100).toFixed(1)}%`;

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const CONTROL = /\p{Cc}/gu;

/** A caller's text (the model a failed call asked for, as sent) could break a row or hold escape sequences the terminal would obey. */
const printable = (text: string): string =>
  text.replace(CONTROL, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

function table(head: readonly string[], raw: readonly (readonly string[])[]): string {
  const rows = raw.map((r) => r.map(printable));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => stringWidth(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - stringWidth(c))))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}
