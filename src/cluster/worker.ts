import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { settleWithin } from '../domain/timers.js';
import { StatsStore, type StatsSnapshot, type StatsState } from '../telemetry/stats.js';
import { isClusterMessage, type ClusterMessage } from './messages.js';

/** How long a worker waits for the cluster's counters before answering with its own alone. */
const STATS_TIMEOUT_MS = 3_000;

interface CollectedStats {
  readonly states: readonly StatsState[];
  readonly missing: number;
}

/**
 * False once the primary is gone: a worker then drains, and what it would ask the primary cannot
 * be sent. Without a callback, a send on the closed channel is an 'error' event nobody handles,
 * which ends the worker and every call it is draining.
 */
export function sendToPrimary(message: ClusterMessage): boolean {
  if (!process.connected || !process.send) return false;
  process.send(message, undefined, undefined, () => undefined);
  return true;
}

/**
 * GetStats and WatchStats in a worker: the sum of every worker's counters, gathered by the
 * primary, so a caller sees the whole service whichever worker its connection landed on. The
 * worker also answers the primary's collection requests with its own counters.
 */
export class ClusterStats {
  private nextId = 0;
  private readonly pending = new Map<number, (result: CollectedStats) => void>();

  constructor(
    private readonly local: StatsStore,
    private readonly log: Logger,
    /** This worker's Prometheus registry, for the primary's /metrics; undefined with METRICS=off. */
    registry: Registry | undefined,
  ) {
    process.on('message', (message: unknown) => {
      if (!isClusterMessage(message)) return;
      if (message.llmo === 'collect' && message.what === 'stats') {
        sendToPrimary({ llmo: 'stats-state', id: message.id, state: this.local.exportState() });
      } else if (message.llmo === 'collect' && message.what === 'metrics') {
        void (registry ? registry.getMetricsAsJSON() : Promise.resolve([])).then(
          (metrics) => sendToPrimary({ llmo: 'metrics-state', id: message.id, metrics }),
          (err: unknown) => this.log.warn({ err }, 'metrics collection failed in this worker'),
        );
      } else if (message.llmo === 'stats-result') {
        this.pending.get(message.id)?.({ states: message.states, missing: message.missing });
      }
    });
  }

  async snapshot(): Promise<StatsSnapshot> {
    const id = this.nextId++;
    const reply = new Promise<CollectedStats | undefined>((resolve) => {
      this.pending.set(id, resolve);
      if (!sendToPrimary({ llmo: 'stats-request', id })) resolve(undefined);
    });
    const result = await settleWithin(reply, STATS_TIMEOUT_MS);
    this.pending.delete(id);
    if (!result) {
      this.log.warn('the other workers did not send their stats in time: answering with this worker alone');
      return this.local.snapshot();
    }
    if (result.missing > 0) this.log.warn({ missing: result.missing }, 'some workers did not send their stats in time');
    return StatsStore.merged(result.states).snapshot();
  }
}

/**
 * Node exits a worker at once when its IPC channel closes unexpectedly (the primary died).
 * Marking the disconnect as expected, before Node's own listener runs, lets it drain instead.
 */
export function drainWhenPrimaryGoes(drain: () => void): void {
  process.prependListener('disconnect', () => {
    const worker = cluster.worker;
    if (worker) worker.exitedAfterDisconnect = true;
    drain();
  });
}
