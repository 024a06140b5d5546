/** Child processes for the bench: start, wait until ready, read CPU and memory from /proc. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK is 100 on Linux/x86-64). */
const CLK_TCK = 100;

export interface CpuTimes {
  /** User + system CPU, milliseconds. */
  readonly totalMs: number;
  readonly userMs: number;
  readonly systemMs: number;
}

/** utime/stime (fields 14, 15) of a live process; cutime/cstime (16, 17) with `children`. */
export function procCpu(pid: number | 'self', children = false): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after the closing paren are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (field: number): number => Number(fields[field - 3]);
  const user = children ? at(16) : at(14);
  const system = children ? at(17) : at(15);
  return { userMs: (user * 1000) / CLK_TCK, systemMs: (system * 1000) / CLK_TCK, totalMs: ((user + system) * 1000) / CLK_TCK };
}

/**
 * One thread's CPU time (user + system, ms): by default the process's main thread, whose id is
 * the process id. The gateway's event loop is its main thread; its other threads (the SQLite
 * ledger's writer, V8's collector and compiler helpers, libuv's pool) run beside it.
 */
export function threadCpuMs(pid: number, tid = pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Live descendants of a process (a gateway with WORKERS > 1 serves from its workers). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const task of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(' ').filter(Boolean).map(Number)) {
        out.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return out;
}

export interface Memory {
  readonly rssMb: number;
  /** Peak RSS since start or since `resetPeak()`. */
  readonly hwmMb: number;
}

export function procMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : 0;
  };
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** Resets VmHWM to the current RSS (Linux: write 5 to clear_refs). False when not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** Last lines of stdout/stderr, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** The port when known in advance; otherwise `portFromLine` must find it. */
  readonly port?: number;
  /** Reads the port from a stdout line (e.g. a JSON log line). */
  readonly portFromLine?: (line: string) => number | undefined;
  readonly timeoutMs?: number;
  /** Sees every stdout line (e.g. to count the gateway's per-call log lines by status). */
  readonly onLine?: (line: string) => void;
}

/** Spawns a process and resolves once its port accepts TCP connections. */
export async function startProcess(options: StartOptions): Promise<Started> {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (text: string): void => {
    for (const line of text.split('\n')) if (line.trim() !== '') lines.push(line);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  let port = options.port;
  let resolvePort: ((p: number) => void) | undefined;
  const portSeen = new Promise<number>((resolve) => (resolvePort = resolve));
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  let lineBuffer = '';
  child.stdout!.on('data', (text: string) => {
    keep(text);
    if (options.onLine) {
      lineBuffer += text;
      for (let at = lineBuffer.indexOf('\n'); at >= 0; at = lineBuffer.indexOf('\n')) {
        options.onLine(lineBuffer.slice(0, at));
        lineBuffer = lineBuffer.slice(at + 1);
      }
    }
    if (port === undefined && options.portFromLine) {
      buffered += text;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const found = options.portFromLine(line);
        if (found !== undefined) {
          port = found;
          resolvePort?.(found);
        }
      }
    }
  });
  child.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`${options.name} exited early (code ${code}, signal ${signal}):\n${lines.join('\n')}`)),
    ),
  );
  exited.catch(() => undefined);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const resolvedPort = port ?? (await Promise.race([portSeen, exited, sleep(timeoutMs).then(() => -1)]));
  if (resolvedPort < 0) {
    child.kill('SIGKILL');
    throw new Error(`${options.name} did not report its port within ${timeoutMs} ms:\n${lines.join('\n')}`);
  }
  while (!(await canConnect(resolvedPort))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not listen on ${resolvedPort}:\n${lines.join('\n')}`);
    }
    await sleep(50);
  }
  return {
    name: options.name,
    child,
    pid: child.pid!,
    port: resolvedPort,
    tail: () => lines.join('\n'),
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A free TCP port on the loopback (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Busy and total jiffies of the whole machine (/proc/stat, first line). */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Cores busy on the whole machine over `ms` (every process, ours included). */
export async function machineBusy(ms: number): Promise<number> {
  const a = machineTicks();
  const t0 = performance.now();
  await sleep(ms);
  const b = machineTicks();
  return (b.busy - a.busy) / CLK_TCK / ((performance.now() - t0) / 1000);
}

/**
 * This machine may be shared: waits (up to `maxWaitMs`) until other work uses less than
 * `threshold` cores over a second, so a scenario does not start on a busy machine. Returns
 * the busy cores last seen.
 */
export async function waitForQuiet(maxWaitMs: number, threshold: number, log: (line: string) => void): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await machineBusy(1000);
  let warned = false;
  while (busy > threshold && Date.now() < deadline) {
    if (!warned) {
      log(`  machine busy (${busy.toFixed(2)} cores used by other processes); waiting up to ${Math.round(maxWaitMs / 1000)} s ...`);
      warned = true;
    }
    busy = await machineBusy(1000);
  }
  if (busy > threshold) log(`  still busy (${busy.toFixed(2)} cores): measuring anyway; see "others" in the CPU columns`);
  return busy;
}

/** CPU of several processes over a span of work. */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private startedAt = 0;

  constructor(private readonly pids: Readonly<Record<string, number | 'self'>>) {}

  private machineStart = { busy: 0, total: 0 };

  begin(): this {
    this.startedAt = performance.now();
    this.machineStart = machineTicks();
    for (const [name, pid] of Object.entries(this.pids)) this.start.set(name, read(pid));
    return this;
  }

  /**
   * Cores used per process over the span (1.0 = one core busy all the time), and `others`:
   * the rest of the machine's busy time (processes not named here, h2load included).
   */
  end(): Record<string, number> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const out: Record<string, number> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(this.pids)) {
      const used = (read(pid) - (this.start.get(name) ?? 0)) / 1000;
      ours += used;
      out[name] = seconds > 0 ? Math.round((used / seconds) * 100) / 100 : 0;
    }
    const machine = (machineTicks().busy - this.machineStart.busy) / CLK_TCK;
    out.others = seconds > 0 ? Math.max(0, Math.round(((machine - ours) / seconds) * 100) / 100) : 0;
    return out;
  }
}

function read(pid: number | 'self'): number {
  try {
    if (pid === 'self') {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1000;
    }
    // A process and its live descendants (cluster workers); a named process here never has
    // other children, so its workers are all this adds.
    return [pid, ...descendants(pid)].reduce((ms, p) => {
      try {
        return ms + procCpu(p).totalMs;
      } catch {
        return ms;
      }
    }, 0);
  } catch {
    return 0;
  }
}

/** Runs `main` when this module is the script node was started with; a failure exits 1. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (moduleUrl !== `file://${process.argv[1]}`) return;
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
