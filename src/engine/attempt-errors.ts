import { performance } from 'node:perf_hooks';
import { costOf, type CatalogModel } from '../catalog/catalog.js';
import type { UpstreamRequest } from './context.js';
import type { AttemptOutcome, AttemptRecord, FinishReason, PromptParts, TokenUsage, UpstreamOperation } from '../domain/chat.js';
import type { Provider } from '../providers/types.js';
import { estimateUsage, ZERO_USAGE } from '../domain/chat.js';
import { circuitOpen as circuitOpenError, modelNotServed, modelTimedOut, streamStalled } from '../domain/call-errors.js';
import { OrchestratorError, Reason, cancelled, internal } from '../domain/errors.js';

/** The errors and estimates of the attempt runner: what a failed, stalled or skipped call becomes. */

export function abortReason(signal: AbortSignal): OrchestratorError {
  return signal.reason instanceof OrchestratorError ? signal.reason : cancelled('cancelled');
}

export function timeoutOf(model: CatalogModel, ms: number | undefined): { ms: number; reason: () => OrchestratorError } | undefined {
  if (!ms) return undefined;
  return {
    ms,
    reason: () => modelTimedOut(model.id, ms),
  };
}

export function stalled(model: CatalogModel, phase: 'first_token' | 'inter_token', ms: number): OrchestratorError {
  return streamStalled(model.id, phase, ms);
}

export function circuitOpen(model: CatalogModel, coolDownLeftMs: number | undefined): OrchestratorError {
  return circuitOpenError(model.id, coolDownLeftMs);
}

export function outcomeOf(error: OrchestratorError): AttemptOutcome {
  if (error.reason === Reason.CIRCUIT_OPEN) return 'skipped';
  if (error.reason === Reason.MODEL_NOT_AVAILABLE && error.kind === 'failed_precondition') return 'skipped';
  if (error.kind === 'deadline_exceeded' || error.reason === Reason.STREAM_STALLED) return 'timeout';
  if (error.kind === 'cancelled') return 'cancelled';
  return 'failure';
}

export function notServed(model: CatalogModel): OrchestratorError {
  return modelNotServed(model.id, model.provider);
}

/** Errors from providers are already typed; anything else here is a bug or an abort. */
export function asOrchestratorError(err: unknown, signal: AbortSignal): OrchestratorError {
  if (err instanceof OrchestratorError) return err;
  if (signal.aborted && signal.reason instanceof OrchestratorError) return signal.reason;
  return internal(err, 'internal error while calling the upstream');
}

/**
 * Usage of a call that did not finish, estimated at about four characters a token: the prompt,
 * and the text relayed so far. A call we aborted (caller's cancel or deadline, a lost race or
 * hedge, an attempt timeout, a stalled stream) had its prompt sent and processed upstream, and
 * so had one whose answer had begun when it broke off (STREAM_TRUNCATED: the connection cut or
 * the answer ended without a finish reason, unary or streamed, whatever had been relayed): its
 * prompt is charged even when nothing came back. A call the upstream failed on its own with
 * nothing generated (an HTTP error, say) is not billed by providers and counts nothing.
 */
export function usageSoFar(
  prompt: PromptParts,
  generatedChars: number,
  aborted: boolean,
  error: OrchestratorError | undefined,
): { usage: TokenUsage; estimated: boolean } {
  const answering = error?.reason === Reason.STREAM_TRUNCATED;
  if (generatedChars === 0 && !aborted && !answering) return { usage: ZERO_USAGE, estimated: false };
  return { usage: estimateUsage(prompt, generatedChars), estimated: true };
}

/** A model the attempt did not call (no provider, open breaker): nothing sent, nothing charged. */
export function skippedRecord(model: CatalogModel, error: OrchestratorError, retry: number): AttemptRecord {
  return {
    model: model.id,
    provider: model.servedBy ?? model.provider,
    outcome: 'skipped',
    error,
    latencyMs: 0,
    usage: ZERO_USAGE,
    costUsd: 0,
    retry,
    backoffMs: 0,
  };
}

/** The key of a model's breaker and retry budget: its provider and model id. */
export function endpointOf(provider: Pick<Provider, 'name'>, model: Pick<CatalogModel, 'id'>): string {
  return `${provider.name}/${model.id}`;
}

export interface FinishOptions {
  readonly spec: { readonly model: CatalogModel };
  readonly provider: string;
  readonly started: number;
  readonly info: { readonly retry: number; readonly backoffMs: number };
  readonly usage: TokenUsage;
  /** `usage` is our estimate, not the upstream's report. */
  readonly estimated?: boolean;
  readonly finishReason?: FinishReason | undefined;
  readonly error?: OrchestratorError | undefined;
  readonly operation?: UpstreamOperation | undefined;
  readonly upstream?: UpstreamRequest | undefined;
}

/** The record of one upstream request that ended (or failed) now. */
export function attemptRecord(options: FinishOptions): AttemptRecord {
  const { spec, provider, started, info, usage, error } = options;
  return {
    model: spec.model.id,
    provider,
    ...(options.operation ? { operation: options.operation } : {}),
    outcome: error ? outcomeOf(error) : 'success',
    ...(error ? { error } : {}),
    latencyMs: performance.now() - started,
    usage,
    ...(options.estimated ? { usageEstimated: true } : {}),
    ...(options.finishReason && !error ? { finishReason: options.finishReason } : {}),
    costUsd: costOf(spec.model, usage),
    retry: info.retry,
    backoffMs: info.backoffMs,
  };
}
