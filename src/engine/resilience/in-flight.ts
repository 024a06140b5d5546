import { providerBusy } from '../../domain/errors.js';
import type { Removable } from '../../domain/linked-list.js';
import type { EventSink } from '../events.js';
import { abortReason } from '../attempt-errors.js';
import { timerDelay } from '../../domain/timers.js';
import { Slots } from './slots.js';

/** A provider's cap on upstream requests in flight; 0 for either means no cap / no queue. */
export interface InFlightLimits {
  readonly maxInFlight: number;
  readonly queueMax: number;
}

export interface InFlightSettings {
  readonly defaults: InFlightLimits;
  /** Per provider name (the config file's `providers[].max_in_flight` / `queue_max`). */
  readonly perProvider?:
    | ReadonlyMap<string, { readonly maxInFlight?: number | undefined; readonly queueMax?: number | undefined }>
    | undefined;
}

export interface InFlightReading extends InFlightLimits {
  readonly provider: string;
  readonly inFlight: number;
  readonly queued: number;
  /** Since start: requests that waited for a slot, and calls refused one. */
  readonly waitedTotal: number;
  readonly rejectedTotal: number;
}

/** Gives the slot back; a second call does nothing. */
export type Release = () => void;

// An error reaches the client a little before its deadline, not in a race with it.
const DEADLINE_MARGIN_MS = 20;

/**
 * One provider's slots (Slots: a waiter leaves the queue the moment its call is cancelled, and
 * slots go to waiters first come, first served), with a bounded queue and a wait that ends
 * before the call's deadline.
 */
export class InFlightGate {
  private readonly slots: Slots;
  private waitedTotal = 0;
  private rejectedTotal = 0;
  /** Typical time a slot is held: the RetryInfo hint of a refusal. */
  private holdMs = 1_000;

  constructor(
    readonly provider: string,
    readonly limits: InFlightLimits,
    private readonly events: EventSink,
  ) {
    this.slots = new Slots(limits.maxInFlight);
  }

  /** A slot now (the common case, no promise), or a wait; refused with RESOURCE_EXHAUSTED (PROVIDER_BUSY). */
  acquire(signal: AbortSignal, deadline: number): Release | Promise<Release> {
    if (this.slots.tryTake()) return this.releaser();
    if (this.slots.queued >= this.limits.queueMax) throw this.refuse('queue_full', 0);
    const waitMs = deadline - Date.now() - Math.min(DEADLINE_MARGIN_MS, (deadline - Date.now()) / 10);
    if (waitMs <= 0) throw this.refuse('deadline', 0);
    if (signal.aborted) throw abortReason(signal);
    this.waitedTotal++;
    return new Promise<Release>((resolve, reject) => {
      const since = performance.now();
      let queued: Removable | undefined;
      const leave = (): void => {
        queued?.remove();
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        leave();
        this.events.emit({ type: 'upstream_queue', provider: this.provider, outcome: 'cancelled', waitedMs: performance.now() - since });
        reject(abortReason(signal));
      };
      const timer = setTimeout(() => {
        leave();
        reject(this.refuse('deadline', performance.now() - since));
      }, timerDelay(waitMs));
      signal.addEventListener('abort', onAbort, { once: true });
      queued = this.slots.wait(() => {
        leave();
        this.events.emit({ type: 'upstream_queue', provider: this.provider, outcome: 'admitted', waitedMs: performance.now() - since });
        resolve(this.releaser());
      });
    });
  }

  reading(): InFlightReading {
    return {
      provider: this.provider,
      ...this.limits,
      inFlight: this.slots.active,
      queued: this.slots.queued,
      waitedTotal: this.waitedTotal,
      rejectedTotal: this.rejectedTotal,
    };
  }

  private releaser(): Release {
    const acquired = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Moving average of hold times: what a refused caller is told to wait.
      this.holdMs += (performance.now() - acquired - this.holdMs) / 8;
      this.slots.release();
    };
  }

  private refuse(why: 'queue_full' | 'deadline', waitedMs: number) {
    this.rejectedTotal++;
    this.events.emit({ type: 'upstream_queue', provider: this.provider, outcome: 'rejected', waitedMs });
    return providerBusy({ provider: this.provider, why, ...this.limits, retryAfterMs: Math.max(100, Math.round(this.holdMs)) });
  }
}

/** The gates of every provider, made on first use. */
export class InFlightGates {
  private readonly gates = new Map<string, InFlightGate>();

  constructor(
    private readonly settings: InFlightSettings,
    private readonly events: EventSink,
  ) {}

  for(provider: string): InFlightGate {
    let gate = this.gates.get(provider);
    if (!gate) {
      const own = this.settings.perProvider?.get(provider);
      const { defaults } = this.settings;
      const limits = { maxInFlight: own?.maxInFlight ?? defaults.maxInFlight, queueMax: own?.queueMax ?? defaults.queueMax };
      gate = new InFlightGate(provider, limits, this.events);
      this.gates.set(provider, gate);
    }
    return gate;
  }

  readings(): InFlightReading[] {
    return [...this.gates.values()].map((gate) => gate.reading());
  }
}
