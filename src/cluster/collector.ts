import type { Worker } from 'node:cluster';
import type { ClusterMessage } from './messages.js';

/** How long the primary waits for every worker's counters. */
const COLLECT_TIMEOUT_MS = 2_000;

export type CollectDone = (answers: unknown[], missing: number) => void;

interface Collection {
  readonly answers: unknown[];
  readonly waiting: Set<number>;
  readonly timer: NodeJS.Timeout;
  readonly done: CollectDone;
}

/**
 * Asks every serving worker for its counters (stats or metrics) and hands over what came back
 * once all answered, a worker in the round exited, or the timeout passed: a restart in progress
 * makes a scrape short of one worker, never late.
 */
export class Collector {
  private readonly collections = new Map<number, Collection>();
  private nextId = 0;

  constructor(
    /** Workers that said they serve (a worker still starting has nothing to say, and no listener yet). */
    private readonly serving: () => readonly Worker[],
    private readonly timeoutMs = COLLECT_TIMEOUT_MS,
  ) {}

  collect(what: 'stats' | 'metrics', done: CollectDone): void {
    const id = this.nextId++;
    const workers = this.serving();
    this.collections.set(id, {
      answers: [],
      waiting: new Set(workers.map((w) => w.id)),
      timer: setTimeout(() => this.finish(id), this.timeoutMs),
      done,
    });
    for (const w of workers) send(w, { llmo: 'collect', id, what });
    if (workers.length === 0) this.finish(id);
  }

  /** A worker's answer to collection `id`. */
  answered(worker: Worker, id: number, answer: unknown): void {
    const c = this.collections.get(id);
    if (!c?.waiting.delete(worker.id)) return;
    c.answers.push(answer);
    if (c.waiting.size === 0) this.finish(id);
  }

  /** A worker exited: no round waits for it any more. */
  forget(workerId: number): void {
    for (const [id, c] of this.collections) if (c.waiting.delete(workerId) && c.waiting.size === 0) this.finish(id);
  }

  private finish(id: number): void {
    const c = this.collections.get(id);
    if (!c) return;
    this.collections.delete(id);
    clearTimeout(c.timer);
    c.done(c.answers, c.waiting.size);
  }
}

/**
 * A worker that has just died still looks connected until the primary reads the end of its
 * channel, and a write to it then fails (EPIPE). Without a callback that failure is an 'error'
 * event nobody handles, which would end the primary and with it every worker; the message is not
 * needed (its exit takes the worker out of the round).
 */
export function send(worker: Worker, message: ClusterMessage): void {
  if (worker.isConnected()) worker.send(message, undefined, undefined, () => undefined);
}
