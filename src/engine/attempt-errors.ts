import { performance } from 'node:perf_hooks';
import { costOf, type CatalogModel } from '../catalog/catalog.js';
import type { UpstreamRequest } from './context.js';
import type { AttemptOutcome, AttemptRecord, FinishReason, TokenUsage, UpstreamOperation } from '../domain/chat.js';
import type { Provider } from '../providers/types.js';
import { estimateUsage, ZERO_USAGE } from '../domain/chat.js';
import { checkUsage, type UsageRequest, type UsageSource } from './usage-check.js';
import { circuitOpen as circuitOpenError, modelNotServed, modelTimedOut, streamStalled } from '../domain/call-errors.js';
import { OrchestratorError, Reason, cancelled, internal, isLogged, markLogged } from '../domain/errors.js';
import type { Logger } from 'pino';
import { extend } from '../domain/extend.js';

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

/** What a call that did not finish had done when it ended. */
export interface SoFar {
  /** Characters of the answer (text, tool calls, thinking) received. */
  readonly generatedChars: number;
  /** We aborted it (cancel, deadline, lost race or hedge, attempt timeout, stall, consumer gone). */
  readonly aborted: boolean;
  readonly error: OrchestratorError | undefined;
  /** The prompt's usage as the upstream reported it when it began to answer (ProviderRequest.onPromptUsage). */
  readonly reportedPrompt?: TokenUsage | undefined;
  /** The whole usage as the upstream reported it before the end (ProviderRequest.onAnswerUsage). */
  readonly reportedAnswer?: TokenUsage | undefined;
  /** Where a refused report is logged. */
  readonly source?: UsageSource | undefined;
}

/**
 * Usage of a call that did not finish. A call we aborted (caller's cancel or deadline, a lost
 * race or hedge, an attempt timeout, a stalled stream) had its prompt sent and processed
 * upstream, and so had one whose answer had begun when it broke off (STREAM_TRUNCATED: the
 * connection cut or the answer ended without a finish reason, unary or streamed, whatever had
 * been relayed): its prompt is charged even when nothing came back. A call the upstream failed on
 * its own with nothing generated (an HTTP error, say) is not billed by providers and counts
 * nothing. The prompt is charged as the upstream reported it before the break (Anthropic's
 * message_start, which it bills however the stream ends: cache reads and writes at their own
 * prices), a report the usage check takes, else at about four characters a token; the answer
 * received so far at four characters a token, unless the upstream reported the answer's usage
 * before the break (Anthropic's message_delta, sent just before message_stop): then both counts
 * are the upstream's and nothing is estimated.
 */
export function usageSoFar(request: UsageRequest, soFar: SoFar): { usage: TokenUsage; estimated: boolean } {
  const { generatedChars, aborted, error, reportedPrompt, reportedAnswer } = soFar;
  if (reportedAnswer) {
    const checked = checkUsage(reportedAnswer, request, generatedChars, soFar.source);
    if (checked.refused === undefined) return { usage: checked.usage, estimated: false };
  }
  // No prompt is empty: a report of none is a compatible server that counts it only at the end.
  if (reportedPrompt && reportedPrompt.promptTokens > 0) {
    const checked = checkUsage(extend(reportedPrompt, { completionTokens: 0 }), request, 0, soFar.source);
    if (checked.refused === undefined) {
      const { completionTokens } = estimateUsage(request, generatedChars);
      const usage = extend(checked.usage, { completionTokens, totalTokens: checked.usage.promptTokens + completionTokens });
      return { usage, estimated: true };
    }
  }
  const answering = error?.reason === Reason.STREAM_TRUNCATED;
  // Estimated only when charged: a failure nothing was sent for must not measure the whole prompt.
  if (generatedChars === 0 && !aborted && !answering) return { usage: ZERO_USAGE, estimated: false };
  return { usage: estimateUsage(request, generatedChars), estimated: true };
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
  readonly spec: { readonly model: CatalogModel; readonly log?: Logger | undefined };
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

/**
 * A bug of the gateway's own code behind an attempt, logged with its cause as the attempt ends:
 * a Fallback or Race that moves on to another model, or ends with all their failures in one
 * error, reports it nowhere else. Marked, so the door that ends a call with it logs it once.
 */
export function logBug(log: Logger | undefined, record: AttemptRecord): void {
  const error = record.error;
  if (log === undefined || error?.kind !== 'internal' || isLogged(error)) return;
  markLogged(error);
  log.error({ err: error, model: record.model, provider: record.provider }, 'internal error');
}
