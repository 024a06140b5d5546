import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, write, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { pino } from 'pino';
import { extend } from '../domain/extend.js';

/**
 * Where log lines go: stdout always, plus an optional file rotated daily
 * (active file `logs/app.log`; at local midnight it is renamed `logs/app-YYYY-MM-DD.log` after
 * the day it holds, and a new `app.log` starts).
 *
 * The file is written synchronously but in batches: lines collect in memory and are written
 * with one `writeSync` per event-loop turn (or sooner past 64 KiB), so ordering across a
 * rotation is trivially right, `flushSync` on exit loses nothing, and the cost is one system
 * call per turn, not per line. Time is injected (`now`), so rotation is tested without waiting
 * for midnight.
 */

export interface RotatingFileOptions {
  /** The active file, e.g. `logs/app.log`; its directory is created when missing. */
  readonly path: string;
  /** `daily`: roll over at local midnight; `off`: one file that grows. */
  readonly rotate: 'daily' | 'off';
  /** Rotated files older than this many days are deleted at each rollover; 0 keeps them all. */
  readonly retentionDays: number;
  /** The clock (tests inject one). */
  readonly now?: () => Date;
}

const FLUSH_AT_CHARS = 64 * 1024;

/** A pino destination (`write`, `flush`, `flushSync`) that rotates its file daily. */
export class RotatingFileDestination {
  private readonly path: string;
  private readonly rotate: 'daily' | 'off';
  private readonly retentionDays: number;
  private readonly now: () => Date;
  private fd: number;
  /** Local day (YYYY-MM-DD) of the lines in the active file. */
  private day: string;
  private buffer = '';
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  /** Lines a failed write lost (a full disk): counted and dropped, as stdout's are when its reader is gone. */
  dropped = 0;
  private readonly onExit = (): void => this.flushSync();

  constructor(options: RotatingFileOptions) {
    this.path = options.path;
    this.rotate = options.rotate;
    this.retentionDays = options.retentionDays;
    this.now = options.now ?? (() => new Date());
    mkdirSync(dirname(this.path), { recursive: true });
    this.day = localDay(this.now());
    // A file left by a run on an earlier day is that day's file: roll it first.
    if (this.rotate === 'daily' && existsSync(this.path)) {
      const written = localDay(statSync(this.path).mtime);
      if (written < this.day) this.rollTo(written);
    }
    this.fd = openSync(this.path, 'a');
    if (this.rotate === 'daily') this.prune();
    process.on('exit', this.onExit);
  }

  write(line: string): void {
    if (this.closed) return;
    if (this.rotate === 'daily') {
      const day = localDay(this.now());
      if (day !== this.day) this.rollOver(day);
    }
    this.buffer += line;
    if (this.buffer.length >= FLUSH_AT_CHARS) this.flushSync();
    else this.scheduled ??= setImmediate(() => this.flushSync());
  }

  /** pino's `logger.flush(cb)`. */
  flush(cb?: (err?: Error) => void): void {
    try {
      this.flushSync();
      cb?.();
    } catch (err) {
      cb?.(err as Error);
    }
  }

  flushSync(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    if (this.buffer === '' || this.closed) return;
    const data = Buffer.from(this.buffer);
    this.buffer = '';
    if (this.fd < 0 && !this.reopen()) {
      this.dropped += linesIn(data);
      return;
    }
    let offset = 0;
    try {
      while (offset < data.length) offset += writeSync(this.fd, data, offset);
    } catch {
      // Thrown from here, a full disk (ENOSPC) or a failing one ended the process from the
      // flush's setImmediate, or failed the call whose log line filled the buffer. The batch is
      // lost; the next one is tried again, so the file resumes once there is room.
      this.dropped += linesIn(data.subarray(offset));
    }
  }

  close(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    if (this.fd >= 0) closeSync(this.fd);
    process.removeListener('exit', this.onExit);
  }

  /**
   * Midnight: the active file is renamed after the day it holds and a new one opened. A failure
   * here (the log directory removed while the gateway ran, a volume gone read-only) threw into
   * every later log call, the calls whose lines they were included; now the day's lines go to a
   * recreated directory, or are dropped and counted while no file can be opened.
   */
  private rollOver(day: string): void {
    this.flushSync();
    const held = this.day;
    this.day = day;
    if (this.fd >= 0) closeSync(this.fd);
    // Never written through once closed: the number may be reused by a socket or another file.
    this.fd = -1;
    try {
      this.rollTo(held);
    } catch {
      // Kept under its name: the new day's lines are appended to it.
    }
    if (this.reopen()) this.prune();
  }

  /** Opens the active file, its directory made again if it was removed; false when it cannot be. */
  private reopen(): boolean {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, 'a');
      return true;
    } catch {
      return false;
    }
  }

  /** `app.log` -> `app-<day>.log`, or `app-<day>.1.log`, ... when that name is taken. */
  private rollTo(day: string): void {
    if (!existsSync(this.path)) return;
    const { dir, stem, ext } = parts(this.path);
    let target = join(dir, `${stem}-${day}${ext}`);
    for (let n = 1; existsSync(target); n += 1) target = join(dir, `${stem}-${day}.${n}${ext}`);
    renameSync(this.path, target);
  }

  /** Deletes rotated files whose day is more than `retentionDays` before today. */
  private prune(): void {
    if (this.retentionDays <= 0) return;
    const { dir, stem, ext } = parts(this.path);
    const today = this.now();
    const oldest = localDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() - this.retentionDays));
    const pattern = new RegExp(`^${escapeRegExp(stem)}-(\\d{4}-\\d{2}-\\d{2})(?:\\.\\d+)?${escapeRegExp(ext)}$`);
    for (const name of readdirSync(dir)) {
      const day = pattern.exec(name)?.[1];
      if (day !== undefined && day < oldest) {
        try {
          unlinkSync(join(dir, name));
        } catch {
          // Already gone (another process pruning the same directory): nothing to do.
        }
      }
    }
  }
}

/**
 * Log lines to a pipe or terminal (stdout) without ever holding up the process: writes are
 * asynchronous, one at a time, batched; a reader that stops reading makes lines wait in a
 * bounded buffer (past it they are dropped and counted), and a reader that goes away (EPIPE,
 * or any other write error) ends logging to it for good. The exit flush is bounded in time.
 * pino's own stdout destination retries a broken pipe forever in its exit flush, which kept a
 * stopping gateway alive until SIGKILL when its stdout reader was gone.
 */
export class PipeDestination {
  private pending: string[] = [];
  private pendingChars = 0;
  private writing = false;
  private broken = false;
  /** Lines dropped because the buffer was full or the reader was gone. */
  dropped = 0;

  constructor(
    private readonly fd = 1,
    private readonly maxBufferedChars = 8 * 1024 * 1024,
    /**
     * Set when other processes write to the same pipe (the workers of WORKERS > 1): each write
     * is then whole lines of at most PIPE_BUF bytes, which the kernel never splits or mixes
     * with another writer's, where a larger write to a full pipe goes in pieces and the other
     * processes' lines land between them.
     */
    private readonly maxWriteBytes?: number,
  ) {}

  /** False once the reader is gone. */
  get open(): boolean {
    return !this.broken;
  }

  write(line: string): void {
    if (this.broken || this.pendingChars + line.length > this.maxBufferedChars) {
      this.dropped += 1;
      return;
    }
    this.pending.push(line);
    this.pendingChars += line.length;
    if (!this.writing) this.writeNext();
  }

  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  /** Writes what waits, for at most `budgetMs` (a full pipe is retried, nothing else is). */
  flushSync(budgetMs = 500): void {
    let data = this.take();
    const until = Date.now() + budgetMs;
    while (data.length > 0 && !this.broken && Date.now() < until) {
      try {
        data = data.subarray(writeSync(this.fd, data));
        if (data.length === 0) data = this.take();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') this.broken = true;
      }
    }
  }

  /** The next write: every waiting line, or as many whole lines as fit in `maxWriteBytes` (at least one). */
  private take(): Buffer {
    let count = this.pending.length;
    if (this.maxWriteBytes !== undefined) {
      let bytes = 0;
      for (count = 0; count < this.pending.length; count++) {
        bytes += Buffer.byteLength(this.pending[count] ?? '');
        if (count > 0 && bytes > this.maxWriteBytes) break;
      }
    }
    if (count === this.pending.length) {
      // Everything waiting (always with one writer): no count to keep line by line.
      const data = Buffer.from(this.pending.join(''));
      this.pending = [];
      this.pendingChars = 0;
      return data;
    }
    const lines = this.pending.splice(0, count);
    for (const line of lines) this.pendingChars -= line.length;
    return Buffer.from(lines.join(''));
  }

  private writeNext(): void {
    if (this.broken || this.pending.length === 0) {
      this.writing = false;
      return;
    }
    this.writing = true;
    this.send(this.take());
  }

  private send(data: Buffer): void {
    write(this.fd, data, 0, data.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.send(data), 10).unref();
          return;
        }
        this.broken = true;
        this.dropped += this.pending.length;
        this.pending = [];
        this.pendingChars = 0;
        this.writing = false;
        return;
      }
      if (written < data.length) this.send(data.subarray(written));
      else this.writeNext();
    });
  }
}

export interface LogOutputOptions {
  /** Unset: stdout only. */
  readonly file?: Omit<RotatingFileOptions, 'now'> | undefined;
  /** Tests: replaces stdout. */
  readonly stdout?: pino.DestinationStream;
  /** Other processes write to the same stdout (WORKERS > 1): no write mixes with theirs. */
  readonly shared?: boolean;
  readonly now?: () => Date;
}

/** The most a write to a pipe may carry and still reach the reader in one piece (Linux's PIPE_BUF). */
const PIPE_BUF = 4096;

/** What serve.ts hands to createLogger, and closes at exit. */
export interface LogOutput {
  readonly stream: pino.DestinationStream & { flush(cb?: (err?: Error) => void): void; flushSync(): void };
  close(): void;
}

/** stdout (PipeDestination unless a test supplies one) and, when configured, the rotating file. */
export function openLogOutput(options: LogOutputOptions = {}): LogOutput {
  const stdout: pino.DestinationStream & { flushSync?: () => void } =
    options.stdout ?? new PipeDestination(1, undefined, options.shared ? PIPE_BUF : undefined);
  const file = options.file ? new RotatingFileDestination(extend(options.file, options.now ? { now: options.now } : {})) : undefined;
  const flushSync = (): void => {
    file?.flushSync();
    stdout.flushSync?.();
  };
  return {
    stream: {
      write: (line: string) => {
        stdout.write(line);
        file?.write(line);
      },
      flush: (cb) => {
        flushSync();
        cb?.();
      },
      flushSync,
    },
    close: () => {
      file?.close();
      stdout.flushSync?.();
    },
  };
}

/** Lines begun in `data` (its last may lack its newline: a partial write cut it). */
function linesIn(data: Buffer): number {
  let lines = 0;
  for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) lines += 1;
  return data.length > 0 && data[data.length - 1] !== 10 ? lines + 1 : lines;
}

/** YYYY-MM-DD in local time. */
export function localDay(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function parts(path: string): { dir: string; stem: string; ext: string } {
  const ext = extname(path);
  return { dir: dirname(path), stem: basename(path, ext), ext };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
