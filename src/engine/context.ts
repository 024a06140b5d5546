import type { Logger } from 'pino';
import type { Principal } from '../domain/principal.js';
import type { UpstreamObserver } from './ports.js';

/** What the engine knows about the call it serves. Built by the server layer. */
export interface CallContext {
  readonly requestId: string;
  /** Aborts on caller cancel (reason: cancelled) or deadline (reason: deadline_exceeded). */
  readonly signal: AbortSignal;
  /** Epoch milliseconds when the call's deadline (or the configured default) runs out. */
  readonly deadline: number;
  readonly log: Logger;
  /** performance.now() when the call arrived; latencies are measured from here. */
  readonly startedAt: number;
  /** The API key's identity when keys are configured. */
  readonly principal?: Principal | undefined;
  /** Told when each upstream request starts and ends: the headers it carries (tracing), its record (upstream time, usage charged to limits). */
  readonly upstream?: UpstreamObserver | undefined;
}
