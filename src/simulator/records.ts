import type { IncomingHttpHeaders } from 'node:http';
import type { FaultKind } from './faults.js';

export type SimRequestOutcome = 'open' | 'completed' | 'client_closed' | 'fault';

/**
 * One accepted chat completion request (authenticated and valid), updated in place as it
 * runs. `client_closed` means the client went away before the response finished: the proof
 * that race losers and cancelled calls are really closed upstream.
 */
export interface SimRequestRecord {
  readonly id: number;
  readonly model: string;
  readonly stream: boolean;
  /** The parsed JSON body as received. */
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly outcome: SimRequestOutcome;
  /** Set when a fault rule applied, whatever the outcome. */
  readonly fault?: FaultKind;
  /** Completion tokens that reached the wire (token chunks, or the JSON body's count). */
  readonly tokensSent: number;
}

export type SimRequestListener = (record: SimRequestRecord) => void;

export type MutableRecord = { -readonly [K in keyof SimRequestRecord]: SimRequestRecord[K] };

export interface RecordInit {
  readonly model: string;
  readonly stream: boolean;
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
  readonly fault: FaultKind | undefined;
}

/**
 * Arrival-ordered records plus an O(1) open counter, so openRequests() and waitForIdle()
 * stay cheap under benchmark load; the oldest records are dropped past `maxRecords`.
 */
export class RequestLog {
  readonly #records: MutableRecord[] = [];
  readonly #maxRecords: number;
  readonly #listeners = new Set<SimRequestListener>();
  readonly #idleWaiters = new Set<() => void>();
  #nextId = 1;
  #open = 0;

  constructor(maxRecords: number) {
    this.#maxRecords = maxRecords;
  }

  get records(): readonly SimRequestRecord[] {
    return this.#records;
  }

  get openCount(): number {
    return this.#open;
  }

  begin(init: RecordInit): MutableRecord {
    const record: MutableRecord = {
      id: this.#nextId++,
      model: init.model,
      stream: init.stream,
      body: init.body,
      headers: init.headers,
      startedAt: Date.now(),
      outcome: 'open',
      tokensSent: 0,
    };
    if (init.fault !== undefined) record.fault = init.fault;
    this.#records.push(record);
    if (this.#records.length > this.#maxRecords) this.#records.shift();
    this.#open += 1;
    for (const listener of this.#listeners) {
      try {
        listener(record);
      } catch (error) {
        // A broken test hook must not take the simulated upstream down with it.
        process.emitWarning(`simulator onRequest listener threw: ${String(error)}`);
      }
    }
    return record;
  }

  /** Settles a record once; later calls (e.g. 'close' after 'finish') are ignored. */
  end(record: MutableRecord, outcome: Exclude<SimRequestOutcome, 'open'>): void {
    if (record.outcome !== 'open') return;
    record.outcome = outcome;
    record.endedAt = Date.now();
    this.#open -= 1;
    if (this.#open === 0) {
      for (const wake of this.#idleWaiters) wake();
    }
  }

  subscribe(listener: SimRequestListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  waitForIdle(timeoutMs: number): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(wake);
        reject(new Error(`simulator: ${this.#open} request(s) still open after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#idleWaiters.add(wake);
    });
  }
}
