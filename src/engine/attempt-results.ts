import type { CatalogModel } from '../catalog/catalog.js';
import type { AttemptRecord } from '../domain/chat.js';
import type { OrchestratorError } from '../domain/errors.js';
import type { ProviderCompletion, ProviderStreamEvent } from '../providers/types.js';

/** What the attempt runner answers: a completion, an opened stream, or the error with every attempt made. */

export interface RetryOptions {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** What one model answered (a completion by default; embeddings for Embed), with every attempt made. */
export type AttemptResult<R = ProviderCompletion> =
  | {
      readonly ok: true;
      readonly value: R;
      readonly record: AttemptRecord;
      readonly records: readonly AttemptRecord[];
    }
  | { readonly ok: false; readonly error: OrchestratorError; readonly records: readonly AttemptRecord[] };

/**
 * A stream that produced its first events; the caller relays the rest and must close it. Events
 * come in the groups the upstream delivered them in (one read each, never empty).
 */
export interface OpenedStream {
  readonly model: CatalogModel;
  readonly provider: string;
  readonly first: readonly ProviderStreamEvent[];
  readonly rest: AsyncGenerator<readonly ProviderStreamEvent[]>;
  /** Settles once the breaker has judged the stream (after `rest` ended), so a closed stream's verdict is in before the next call. */
  readonly judged: Promise<void>;
}

export type OpenStreamResult =
  | { readonly ok: true; readonly stream: OpenedStream }
  | { readonly ok: false; readonly error: OrchestratorError };
