import { parseArgs, type ParseArgsConfig } from 'node:util';
import { acceptableRequestId } from '../domain/call-state.js';
import { RoutingProfile, StreamStrategy } from '../gen/orchestrator/v1/common.js';

export const COMMANDS = ['chat', 'stream', 'race', 'fallback', 'models', 'stats'] as const;
/** The ledger's commands (ledger-commands.ts), parsed there with their own options. */
export const LEDGER_COMMANDS = ['usage', 'calls'] as const;
export type Command = (typeof COMMANDS)[number];

export const DEFAULT_ADDR = '127.0.0.1:50051';
/** Every command's deadline, the ledger's too, unless --timeout says otherwise. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export const USAGE = `usage: llm-orchestrator <command> [options] [PROMPT...]

Commands:
  chat PROMPT       one model answers (--model, or --route to let the gateway pick)
  stream PROMPT     the answer token by token as it arrives (--strategy fallback|race with --models)
  race PROMPT       --models at once; the first success wins, the others are cancelled
  fallback PROMPT   --models in order until one answers
  models            the catalog (--provider NAME, --available)
  stats             counters since the server started
  usage             the ledger's totals (--group-by key,model,...; "usage --help" for its options)
  calls             the ledger's latest calls (--limit N, --failed; "calls --help" for its options)

PROMPT is the rest of the command line; "-" reads it from standard input.
The answer goes to stdout; model, usage, cost and attempts go to stderr (so "> file" keeps the
answer only). Exit status: 0 ok, 1 the call failed (gRPC code and ErrorInfo reason printed),
2 bad usage, 130 interrupted.

Options:
  --addr HOST:PORT        server address (env LLMO_ADDR, default ${DEFAULT_ADDR})
  --json                  print the response as JSON: proto JSON names and enums, 64-bit integers as numbers
                          (buf curl prints them as strings); stream: one event per line
  -m, --model ID          model id or alias (default: the server's DEFAULT_MODEL)
  --models A,B,...        race/fallback/stream chain; with --route, the candidates
  -t, --temperature T     0 to 2
  --max-tokens N          most tokens to generate
  --timeout DURATION      call deadline: 30s, 500ms, 2m or seconds (default 60s)
  --request-id ID         sent as x-request-id (1 to 128 printable ASCII, no spaces; the server makes one otherwise)
  --route PROFILE         chat, stream: quality|balanced|speed|budget|long_context: the gateway picks the model
  --strategy NAME         stream: single|fallback|race
  --hedge-ms N            race and stream race: start the next racer only after N ms
  --no-default-message    fallback: fail with the attempts instead of the default message
  --provider NAME         models: only this provider's models
  --available             models: only models that can be called now
  --api-key KEY           sent as "authorization: Bearer KEY" (env LLMO_API_KEY)
  --tls                   connect with TLS (system roots, or --ca-file)
  --ca-file PATH          PEM roots to trust for --tls
  --cert-file PATH        mTLS: client certificate (PEM), with --key-file
  --key-file PATH         mTLS: client private key (PEM)
  -q, --quiet             no summary on stderr
  --version               the client's version
  -h, --help              this text`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  readonly command: Command;
  readonly prompt: string;
  readonly addr: string;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly model: string;
  readonly models: readonly string[];
  readonly temperature: number | undefined;
  readonly maxTokens: number | undefined;
  readonly timeoutMs: number;
  readonly requestId: string | undefined;
  readonly route: RoutingProfile | undefined;
  readonly strategy: StreamStrategy;
  readonly hedgeMs: number | undefined;
  readonly noDefaultMessage: boolean;
  readonly provider: string;
  readonly availableOnly: boolean;
  readonly apiKey: string | undefined;
  readonly tls: boolean;
  readonly caFile: string | undefined;
  /** mTLS client certificate and key (both or neither). */
  readonly clientCert: { readonly certFile: string; readonly keyFile: string } | undefined;
}

const PROFILES: Readonly<Record<string, RoutingProfile>> = {
  quality: RoutingProfile.ROUTING_PROFILE_QUALITY,
  balanced: RoutingProfile.ROUTING_PROFILE_BALANCED,
  speed: RoutingProfile.ROUTING_PROFILE_SPEED,
  budget: RoutingProfile.ROUTING_PROFILE_BUDGET,
  long_context: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT,
};

const STRATEGIES: Readonly<Record<string, StreamStrategy>> = {
  single: StreamStrategy.STREAM_STRATEGY_SINGLE,
  fallback: StreamStrategy.STREAM_STRATEGY_FALLBACK,
  race: StreamStrategy.STREAM_STRATEGY_RACE,
};

/** The options every command takes, the ledger's too: where and how to connect, the deadline, JSON output, help. */
export const COMMON_OPTIONS = {
  addr: { type: 'string' },
  'api-key': { type: 'string' },
  tls: { type: 'boolean', default: false },
  'ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  json: { type: 'boolean', default: false },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies NonNullable<ParseArgsConfig['options']>;

export const OPTIONS = {
  ...COMMON_OPTIONS,
  quiet: { type: 'boolean', short: 'q', default: false },
  model: { type: 'string', short: 'm', default: '' },
  models: { type: 'string', default: '' },
  temperature: { type: 'string', short: 't' },
  'max-tokens': { type: 'string' },
  'request-id': { type: 'string' },
  route: { type: 'string' },
  strategy: { type: 'string' },
  'hedge-ms': { type: 'string' },
  'no-default-message': { type: 'boolean', default: false },
  provider: { type: 'string', default: '' },
  available: { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
} satisfies NonNullable<ParseArgsConfig['options']>;

/**
 * The options only some commands send. Any other command refuses them rather than ignore them:
 * `race --route speed`, ignored, would race the default models while the caller believes the
 * gateway picked one.
 */
const COMMANDS_OF: Readonly<Record<string, readonly Command[] | undefined>> = {
  model: ['chat', 'stream', 'race', 'fallback'],
  models: ['chat', 'stream', 'race', 'fallback'],
  temperature: ['chat', 'stream', 'race', 'fallback'],
  'max-tokens': ['chat', 'stream', 'race', 'fallback'],
  route: ['chat', 'stream'],
  strategy: ['stream'],
  'hedge-ms': ['race', 'stream'],
  'no-default-message': ['fallback'],
  provider: ['models'],
  available: ['models'],
};

/** `help` for -h, `version` for --version; throws UsageError for anything it cannot make sense of. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions | 'help' | 'version' {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; tokens: true; options: typeof OPTIONS }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, tokens: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) return 'help';
  if (values.version) return 'version';
  const [name, ...words] = positionals;
  if (name === undefined) throw new UsageError('a command is required');
  const command = COMMANDS.find((c) => c === name);
  if (command === undefined) throw new UsageError(`unknown command "${name}" (one of: ${[...COMMANDS, ...LEDGER_COMMANDS].join(', ')})`);
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const takers = COMMANDS_OF[token.name];
    if (takers && !takers.includes(command))
      throw new UsageError(`--${token.name} does not apply to ${command} (only to ${takers.join(', ')})`);
  }
  if (command === 'chat' && values.route === undefined && values.models !== '')
    throw new UsageError('chat: --models names the candidates of --route (race, fallback and stream take a list of models)');
  if (values.route !== undefined && values.model !== '')
    throw new UsageError(`${command}: --route picks the model: leave out --model (--models names the candidates)`);
  const strategy =
    values.strategy === undefined ? StreamStrategy.STREAM_STRATEGY_UNSPECIFIED : lookup('--strategy', STRATEGIES, values.strategy);
  if (command === 'stream') streamFlagsFit(values, strategy);
  const needsPrompt = command !== 'models' && command !== 'stats';
  const prompt = words.join(' ');
  if (needsPrompt && prompt.trim() === '') throw new UsageError(`${command} needs a PROMPT`);
  if (!needsPrompt && words.length > 0) throw new UsageError(`${command} takes no PROMPT (got "${prompt}")`);

  return {
    command,
    prompt,
    addr: addrOption(values.addr, env),
    json: values.json,
    quiet: values.quiet,
    model: values.model,
    models: listOption('--models', values.models, 'model (A,B,...)'),
    // The server checks the range (and says so in a BadRequest); here only that it is a number.
    temperature: optionalNumber('--temperature', values.temperature, () => true),
    maxTokens: optionalInt32('--max-tokens', values['max-tokens'], 1),
    timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(values.timeout),
    requestId: requestIdOption(values['request-id']),
    route: values.route === undefined ? undefined : lookup('--route', PROFILES, values.route),
    strategy,
    hedgeMs: optionalInt32('--hedge-ms', values['hedge-ms'], 0),
    noDefaultMessage: values['no-default-message'],
    provider: values.provider,
    availableOnly: values.available,
    apiKey: apiKeyOption(values['api-key'], env),
    ...tlsOptions(values),
  };
}

/**
 * The stream's flags that only fit together, refused here: sent, the call would fail naming
 * proto fields (`models`, `hedge_delay_ms`, `route`) the command line never shows.
 */
function streamFlagsFit(
  values: {
    readonly route?: string | undefined;
    readonly strategy?: string | undefined;
    readonly models: string;
    readonly 'hedge-ms'?: string | undefined;
  },
  strategy: StreamStrategy,
): void {
  const { STREAM_STRATEGY_UNSPECIFIED: UNSET, STREAM_STRATEGY_FALLBACK: FALLBACK, STREAM_STRATEGY_RACE: RACE } = StreamStrategy;
  if (values.route !== undefined) {
    if (strategy !== UNSET && strategy !== FALLBACK)
      throw new UsageError(`stream: --route tries the ranked models in order: leave --strategy out (or fallback), not ${values.strategy}`);
  } else if (values.models !== '' && strategy !== FALLBACK && strategy !== RACE) {
    throw new UsageError('stream: --models needs --strategy fallback or race (or --route, of which they are the candidates)');
  }
  if (values['hedge-ms'] !== undefined && strategy !== RACE) throw new UsageError('stream: --hedge-ms needs --strategy race');
}

/**
 * Refused unless the gateway keeps it: it would answer, log and record the call under an id of its
 * own, and a caller looking for theirs would find nothing.
 */
function requestIdOption(value: string | undefined): string | undefined {
  if (value !== undefined && acceptableRequestId(value) === undefined)
    throw new UsageError(
      `--request-id: "${value}" must be printable ASCII, 1 to 128 characters without spaces (the gateway replaces any other id with its own)`,
    );
  return value;
}

/** --addr, else LLMO_ADDR, else the default. An empty --addr names no server: grpc-js throws on it, a failed call rather than bad usage. */
export function addrOption(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag === '') throw new UsageError(`--addr: empty: give HOST:PORT (default ${DEFAULT_ADDR})`);
  return flag ?? (env['LLMO_ADDR'] || DEFAULT_ADDR);
}

/** --api-key, else LLMO_API_KEY; never echoed in an error, being a secret. */
export function apiKeyOption(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const source = flag === undefined ? 'LLMO_API_KEY' : '--api-key';
  return printableHeader(flag ?? (env['LLMO_API_KEY'] || undefined), () => `${source}: the key must be printable ASCII`);
}

/** gRPC metadata takes printable ASCII only; grpc-js would throw mid-call, reported as a failed call. */
function printableHeader(value: string | undefined, message: (value: string) => string): string | undefined {
  if (value !== undefined && !/^[ -~]*$/.test(value)) throw new UsageError(message(value));
  return value;
}

/** How every command connects: plaintext, TLS (system roots or `caFile`), or mTLS with `clientCert`. */
export type TlsOptions = Pick<CliOptions, 'tls' | 'caFile' | 'clientCert'>;

/** --tls, --ca-file, --cert-file and --key-file, as every command takes them. */
export function tlsOptions(values: {
  readonly tls: boolean;
  readonly 'ca-file'?: string | undefined;
  readonly 'cert-file'?: string | undefined;
  readonly 'key-file'?: string | undefined;
}): TlsOptions {
  const certFile = values['cert-file'];
  const keyFile = values['key-file'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--cert-file and --key-file go together');
  return {
    tls: values.tls || values['ca-file'] !== undefined || certFile !== undefined,
    caFile: values['ca-file'],
    clientCert: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
  };
}

/** `30s`, `500ms`, `2m`, or a number of seconds. */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as `500ms`, `30s` (the unit by default), `2m`, `24h` or `7d`; `flag` names it in an error. */
export function parseDuration(text: string, flag = '--timeout'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match?.[1]) throw new UsageError(`${flag}: "${text}" is not a duration (500ms, 30s, 2m, 24h, 7d)`);
  const ms = Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1_000);
  // A deadline under a millisecond has passed before the call is sent: it could only fail.
  if (ms < 1) throw new UsageError(`${flag} must be at least 1ms (got "${text}")`);
  return ms;
}

/** grpc-timeout carries at most 8 digits of its largest unit, hours; grpc-js throws past it, mid-call. */
const MAX_TIMEOUT_HOURS = 99_999_999;
const MAX_TIMEOUT_MS = MAX_TIMEOUT_HOURS * 3_600_000;

/** --timeout: a duration that a gRPC deadline can carry. */
export function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms > MAX_TIMEOUT_MS)
    throw new UsageError(`--timeout: "${text}" is longer than the longest deadline gRPC can send (${MAX_TIMEOUT_HOURS}h)`);
  return ms;
}

/**
 * A comma-separated list, blanks between commas dropped. A flag given only commas is refused:
 * read as empty, it would mean the flag was never given (`race --models ,` racing the defaults).
 */
export function listOption(flag: string, text: string, what: string): string[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0 && text !== '') throw new UsageError(`${flag}: "${text}" names no ${what}`);
  return items;
}

/** A whole number for an int32 field: a larger one would fail in the client's encoder, reported as an INTERNAL status. */
function optionalInt32(flag: string, text: string | undefined, min: number): number | undefined {
  const n = optionalNumber(flag, text, () => true);
  if (n !== undefined && (!Number.isInteger(n) || n < min || n > INT32_MAX))
    throw new UsageError(`${flag}: "${text}" is not a whole number from ${min} to ${INT32_MAX}`);
  return n;
}

const INT32_MAX = 2_147_483_647;

function optionalNumber(flag: string, text: string | undefined, valid: (n: number) => boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !valid(n)) throw new UsageError(`${flag}: "${text}" is not valid`);
  return n;
}

/** Any case, and `-` for `_`: long_context as the HTTP API and the config file spell it, long-context as earlier versions did. */
function lookup<T>(flag: string, table: Readonly<Record<string, T>>, key: string): T {
  const value = table[key.toLowerCase().replaceAll('-', '_')];
  if (value === undefined) throw new UsageError(`${flag}: "${key}" is not one of ${Object.keys(table).join(', ')}`);
  return value;
}
