import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { timerDelay } from '../domain/timers.js';

/** Workers that die this often within a minute are not replaced any more: something is wrong. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * What a stop sends (SIGTERM from stopAll, SIGINT from a terminal to the whole group): a worker
 * ended by one before it set its handlers stopped as asked.
 */
const STOP_SIGNALS: ReadonlySet<string> = new Set(['SIGTERM', 'SIGINT']);

export interface SupervisorEvents {
  /** The first `workers` workers all serve. */
  up(port: number): void;
  /** A message from a worker (ready messages included). */
  message(worker: Worker, message: unknown): void;
  /** A worker exited (before any replacement is forked). */
  exited(worker: Worker): void;
}

export interface SupervisorOptions {
  readonly workers: number;
  readonly log: Logger;
  readonly events: SupervisorEvents;
  /**
   * How long a stop may take before the workers still running are killed (SIGKILL); a stop
   * that does then ends in failure. Undefined: as long as they take.
   */
  readonly stopWithinMs?: number | undefined;
}

/**
 * Keeps `workers` workers running: forks them, replaces one that dies after start-up (unless
 * they keep dying), stops everything when a first worker cannot start, and on stop lets every
 * worker drain (SIGTERM) and resolves `done` with the exit code once the last is gone.
 */
export class Supervisor {
  /** Workers that said they serve, and not yet exited. */
  private readonly ready = new Set<number>();
  private readonly reloadWhenReady = new Set<number>();
  /** Worker ids forked and not yet exited. */
  private readonly alive = new Set<number>();
  private readonly restarts: number[] = [];
  /** Every first worker has served once: from then on a death is replaced, not fatal. */
  private wasUp = false;
  private stopping = false;
  private exitCode = 0;
  private overrun: NodeJS.Timeout | undefined;
  private readonly exitListener = (worker: Worker, code: number | null, signal: string | null): void => this.onExit(worker, code, signal);
  private finished: (code: number) => void = () => undefined;
  readonly done = new Promise<number>((resolve) => {
    this.finished = (code) => {
      // `cluster` is one per process: a supervisor that is done must not handle a later one's exits.
      cluster.off('exit', this.exitListener);
      clearTimeout(this.overrun);
      resolve(code);
    };
  });

  private readonly workers: number;
  private readonly log: Logger;
  private readonly events: SupervisorEvents;
  private readonly stopWithinMs: number | undefined;

  constructor(options: SupervisorOptions) {
    this.workers = options.workers;
    this.log = options.log;
    this.events = options.events;
    this.stopWithinMs = options.stopWithinMs;
    cluster.on('exit', this.exitListener);
  }

  start(): void {
    for (let i = 0; i < this.workers; i++) this.fork();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Workers connected to the primary. */
  live(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
  }

  /** Workers that serve now. */
  serving(): Worker[] {
    return this.live().filter((w) => this.ready.has(w.id));
  }

  /**
   * SIGHUP to every worker that serves; one still starting gets it once it serves (it may have
   * read the config file before the change the signal is about).
   */
  reloadAll(): void {
    for (const w of this.live()) {
      if (this.ready.has(w.id)) w.process.kill('SIGHUP');
      else this.reloadWhenReady.add(w.id);
    }
  }

  /** A worker said it serves on `port`. */
  markReady(worker: Worker, port: number): void {
    this.ready.add(worker.id);
    if (this.reloadWhenReady.delete(worker.id)) worker.process.kill('SIGHUP');
    if (!this.wasUp && this.ready.size === this.workers) {
      this.wasUp = true;
      this.events.up(port);
    } else if (this.wasUp) {
      this.log.info({ worker: worker.id }, 'replacement worker serving');
    }
  }

  /** Every worker drains (SIGTERM); `done` resolves with `code` once the last is gone. */
  stopAll(code: number): void {
    this.stopping = true;
    this.exitCode = code;
    // A worker's own exit watchdog cannot fire in one that does not run (an event loop blocked
    // for good, a stopped process): without this the primary, and the port it hands out, stay.
    if (this.stopWithinMs !== undefined && this.overrun === undefined) {
      this.overrun = setTimeout(() => {
        this.log.error(
          { workers: this.alive.size, stopWithinMs: this.stopWithinMs },
          'shutdown overran its grace period; killing the workers still running',
        );
        this.killAll();
      }, timerDelay(this.stopWithinMs));
    }
    for (const w of this.live()) w.process.kill('SIGTERM');
    if (this.alive.size === 0) this.finished(this.exitCode);
  }

  /** Ends every worker at once (SIGKILL), a draining one or one that no longer answers the primary included. */
  killAll(): void {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
  }

  private fork(): void {
    const worker = cluster.fork();
    this.alive.add(worker.id);
    worker.on('message', (message: unknown) => this.events.message(worker, message));
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.reloadWhenReady.delete(worker.id);
    this.alive.delete(worker.id);
    const served = this.ready.delete(worker.id);
    this.events.exited(worker);
    if (this.stopping) {
      // A clean stop in which a worker failed (a non-zero exit, or killed by a signal other than
      // the stop's own: a drain ended by SIGKILL, a crash) ends in failure; a stop for a failure
      // keeps that failure's code (every worker exiting 2 on the same config error is still a 2).
      const failed = (code !== 0 && code !== null) || (signal !== null && !STOP_SIGNALS.has(signal));
      if (failed && this.exitCode === 0) this.exitCode = 1;
      if (this.alive.size === 0) this.finished(this.exitCode);
      return;
    }
    if (!this.wasUp) {
      // A first worker that could not start (a config error found at start-up, a port in
      // use): the others would fail the same way.
      this.log.error({ worker: worker.id, code, signal }, 'a worker failed to start; stopping');
      this.stopAll(code ?? 1);
      return;
    }
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && (this.restarts[0] ?? now) < now - 60_000) this.restarts.shift();
    if (this.restarts.length > MAX_RESTARTS_PER_MINUTE) {
      this.log.error({ worker: worker.id, code, signal, served }, 'workers keep dying; stopping');
      // A replacement that could not start says why with its code (2: the config file changed
      // into one with an error), as a first worker's does: the service stops with it, so that a
      // service manager sees a config error rather than a crash to restart.
      this.stopAll(!served && code ? code : 1);
      return;
    }
    this.log.error({ worker: worker.id, code, signal, served }, 'a worker died; starting another');
    this.fork();
  }
}
