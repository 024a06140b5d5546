/**
 * The ledger's write path alone, without a gateway around it: the CPU this process spends (user
 * and system, the kernel's socket work included) per call record written, with the database in
 * another process. That is the gateway's side of the ledger's writes, whatever the database
 * costs its own host. Records look like a successful unary Chat's (one attempt, no routing
 * decision, no prompt kept), written in batches as the ledger's queue hands them over.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * --dir: a built checkout whose dist/ is measured (default: this one; `npm run build` first), so
 * two versions of the write path can be compared on one database.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LedgerDatabase } from '../src/store/database.js';
import type { CallRecord } from '../src/store/records.js';
import type { DatabaseTarget } from '../src/store/url.js';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { runIfMain, threadCpuMs } from './lib/proc.js';
import { median } from './lib/stats.js';

const USAGE = `usage: DATABASE_URL=postgres://... npx tsx bench/ledger-write.ts [--dir DIR] [--calls 60000] [--batch 750] [--rounds 3]
`;
const ARGS: ArgSpec = { values: ['dir', 'calls', 'batch', 'rounds'] };

interface WritePath {
  connect(target: DatabaseTarget): LedgerDatabase;
  migrate(database: LedgerDatabase): Promise<readonly string[]>;
  writeBatch(database: LedgerDatabase, records: readonly CallRecord[]): Promise<void>;
  parseDatabaseUrl(value: string | undefined): DatabaseTarget;
}

function record(run: string, i: number, ts: number): CallRecord {
  const id = `${run}-${String(i).padStart(12, '0')}`;
  return {
    id,
    ts,
    requestId: id,
    method: '/orchestrator.v1.ChatService/Chat',
    protocol: 'grpc',
    keyName: undefined,
    requestedModel: 'gpt-4o',
    model: 'gpt-4o',
    provider: 'openai',
    outcome: 'success',
    code: 'OK',
    reason: undefined,
    usage: { promptTokens: 12, completionTokens: 50, totalTokens: 62, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    usageEstimated: false,
    costUsd: 0.00053,
    costSavedUsd: 0,
    latencyMs: 3.42 + (i % 100) / 7,
    ttftMs: undefined,
    fallbackTriggered: false,
    defaultMessage: false,
    cacheHit: false,
    cacheStale: false,
    promptSha256: undefined,
    prompt: undefined,
    answer: undefined,
    attempts: [
      {
        model: 'gpt-4o',
        provider: 'openai',
        outcome: 'success',
        code: undefined,
        reason: undefined,
        latencyMs: 3.1 + (i % 100) / 7,
        usage: { promptTokens: 12, completionTokens: 50, totalTokens: 62, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
        usageEstimated: false,
        costUsd: 0.00053,
        retry: 0,
        raced: false,
        lost: false,
      },
    ],
    decision: undefined,
  };
}

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const dir = resolve(arg('dir') ?? '.');
  const calls = Number(arg('calls') ?? 60_000);
  const batch = Number(arg('batch') ?? 750);
  const rounds = Number(arg('rounds') ?? 3);
  const load = async (module: string): Promise<Record<string, unknown>> =>
    (await import(pathToFileURL(join(dir, 'dist/store', module)).href)) as Record<string, unknown>;
  const path = { ...(await load('database.js')), ...(await load('write-batch.js')), ...(await load('url.js')) } as unknown as WritePath;
  const target = path.parseDatabaseUrl(process.env.DATABASE_URL);
  if (target.kind === 'off') throw new Error('set DATABASE_URL (postgres://... or sqlite:FILE)');
  const database = path.connect(target);
  await path.migrate(database);
  const run = Date.now().toString(36);
  let next = 0;
  // The records are made before the clock starts: only the writes are measured.
  const batches = (n: number): CallRecord[][] => {
    const out: CallRecord[][] = [];
    for (let done = 0; done < n; done += batch) {
      const ts = Date.now();
      out.push(Array.from({ length: Math.min(batch, n - done) }, () => record(run, next++, ts)));
    }
    return out;
  };
  const write = async (work: readonly CallRecord[][]): Promise<void> => {
    for (const records of work) await path.writeBatch(database, records);
  };
  try {
    await write(batches(batch * 4)); // warm-up: the JIT, the connection, the server's caches
    const perCall: number[] = [];
    const mainPerCall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const work = batches(calls);
      const cpu = process.cpuUsage();
      const main = mainThreadCpuUs();
      const started = performance.now();
      await write(work);
      const used = process.cpuUsage(cpu);
      const mainUs = main === undefined ? undefined : mainThreadCpuUs()! - main;
      const seconds = (performance.now() - started) / 1000;
      perCall.push((used.user + used.system) / calls);
      if (mainUs !== undefined) mainPerCall.push(mainUs / calls);
      process.stderr.write(
        `  round ${r + 1}: ${perCall[r]!.toFixed(1)} µs CPU per call (user ${(used.user / calls).toFixed(1)}, system ${(used.system / calls).toFixed(1)}${mainUs === undefined ? '' : `; main thread ${(mainUs / calls).toFixed(1)}`}), ${Math.round(calls / seconds)} calls/s\n`,
      );
    }
    const list = (values: readonly number[]): string => values.map((v) => v.toFixed(1)).join(' ');
    process.stdout.write(
      `ledger write path (${dir}, ${target.kind}, batches of ${batch}): median ${median(perCall).toFixed(1)} µs of CPU per call (${list(perCall)})` +
        (mainPerCall.length > 0 ? `, of which the main thread ${median(mainPerCall).toFixed(1)} (${list(mainPerCall)})` : '') +
        '\n',
    );
  } finally {
    await database.close();
  }
}

runIfMain(import.meta.url, main);

/**
 * The main thread's CPU time alone (µs): with SQLite the writes run on a thread of their own, and
 * where that thread has a core to itself only the main thread's share delays calls. Undefined
 * where /proc is not there.
 */
function mainThreadCpuUs(): number | undefined {
  try {
    return threadCpuMs(process.pid) * 1000;
  } catch {
    return undefined;
  }
}
