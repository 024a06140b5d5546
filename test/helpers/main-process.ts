import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// Absolute, so that the server can run in another working directory (the .env test).
export const TSX = import.meta.resolve('tsx');
export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/**
 * Free loopback ports, no provider key (simulated models) and no ledger: the default file
 * (./data/orchestrator.db in the checkout) would be shared with every other test doing the same.
 */
export const MAIN_ENV = {
  PORT: '0',
  HOST: '127.0.0.1',
  METRICS_PORT: '0',
  HTTP_PORT: '0',
  OPENAI_API_KEY: '',
  DATABASE_URL: 'off',
};

export interface MainProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** The gRPC port from the start-up line. */
  readonly port: number;
  /** The start-up line waited for, parsed: `httpPort`, `metrics`... */
  readonly listening: Record<string, unknown>;
  /** Every stdout line as written and every stderr chunk, in the order they came. */
  readonly logs: string[];
  /** Every stdout line, parsed (they are JSON). */
  readonly lines: Record<string, unknown>[];
  /** The stderr chunks alone. */
  readonly stderr: string[];
}

/**
 * Starts src/main.ts as `npm start` would, with simulated models on free loopback ports, and waits
 * for its start-up line with a port (`ready`: `llm-orchestrator listening` unless said, as WORKERS > 1
 * says it differently). `env` goes over the base environment. With `timeoutMs`, a process that has
 * not said it listens by then is killed and the start fails.
 */
export async function startMain(
  env: Record<string, string>,
  options: { cwd?: string; timeoutMs?: number; ready?: string } = {},
): Promise<MainProcess> {
  const ready = options.ready ?? 'llm-orchestrator listening';
  const child = spawn(process.execPath, ['--import', TSX, MAIN], {
    env: { ...process.env, ...MAIN_ENV, SIMULATOR_LATENCY_SCALE: '0.2', ...env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const logs: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        logs.push(line);
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (parsed.msg === ready && parsed.port) resolve(parsed);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      logs.push(chunk.toString());
      stderr.push(chunk.toString());
    });
    child.on('close', (code) => reject(new Error(`exited early with ${code}: ${logs.join('\n')}`)));
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`not listening after ${options.timeoutMs} ms: ${logs.join('\n')}`));
      }, options.timeoutMs);
    }
  }).finally(() => clearTimeout(timer));
  return { child, port: Number(listening.port), listening, logs, lines, stderr };
}

/**
 * How a child process ended, once its output is all read too: 'exit' can come while its last lines
 * (a cluster's workers' too, which share the pipes) are still in the pipes, and a loaded machine
 * reads them later; 'close' waits for both.
 */
export async function ended(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  const drained = [child.stdout, child.stderr].every((stream) => stream === null || stream.closed);
  if ((child.exitCode !== null || child.signalCode !== null) && drained) return [child.exitCode, child.signalCode];
  return (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
}

/** The exit code of a started process, once it has exited and its output is all read. */
export async function exitCodeOf(main: Pick<MainProcess, 'child'>): Promise<number | null> {
  const [code] = await ended(main.child);
  return code;
}
