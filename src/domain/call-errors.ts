import type { AttemptRecord } from './chat.js';
import { type ErrorKind, OrchestratorError, Reason } from './errors.js';
import { failedRequestOf } from './upstream-errors.js';

/*
 * What stops a call inside the engine, one factory per situation: a model too slow, stalled,
 * skipped or not served, a route with no model to take the request, and the aggregate of a
 * call whose every attempt failed. Models are named by their canonical id.
 */

/** A model's per-attempt budget (`timeout_ms`, ours) ran out; retryable. */
export function modelTimedOut(model: string, ms: number): OrchestratorError {
  return new OrchestratorError({
    kind: 'deadline_exceeded',
    reason: Reason.UPSTREAM_TIMEOUT,
    message: `${model} did not answer within its ${Math.round(ms)} ms budget`,
    retryable: true,
    metadata: { model, timeout_ms: String(Math.round(ms)) },
  });
}

/** A fallback link ran out of its time: `fixed` when attempt_timeout_ms set it, else its share of the deadline. */
export function linkTimedOut(model: string, ms: number, fixed: boolean): OrchestratorError {
  return new OrchestratorError({
    kind: 'deadline_exceeded',
    reason: Reason.UPSTREAM_TIMEOUT,
    message: `${model} did not answer within ${fixed ? 'attempt_timeout_ms' : 'its share of the deadline'} (${Math.round(ms)} ms)`,
    retryable: true,
    metadata: { model, timeout_ms: String(Math.round(ms)), limit: fixed ? 'attempt_timeout_ms' : 'deadline_share' },
  });
}

/**
 * Whether a timeout was the caller's own limit (a fallback link's attempt_timeout_ms or share of
 * the deadline), not the model's: one caller's tight limit says nothing of the model's health,
 * and must not open its breaker for every other caller.
 */
export function isCallersLimit(err: OrchestratorError): boolean {
  return err.metadata['limit'] !== undefined && err.reason === Reason.UPSTREAM_TIMEOUT;
}

/** A stream went silent before its first token or between tokens for `ms`. */
export function streamStalled(model: string, phase: 'first_token' | 'inter_token', ms: number): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.STREAM_STALLED,
    message: phase === 'first_token' ? `${model} sent no token within ${ms} ms` : `${model} went silent for ${ms} ms between tokens`,
    retryable: true,
    metadata: { model, phase, timeout_ms: String(ms) },
  });
}

/** The model's breaker is open; a retry can succeed once the cool-down ends and a probe is admitted. */
export function circuitOpen(model: string, coolDownLeftMs: number | undefined): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.CIRCUIT_OPEN,
    message: `${model} is failing; its circuit breaker is open, so it was skipped`,
    ...(coolDownLeftMs ? { retryAfterMs: coolDownLeftMs } : {}),
    metadata: { model },
  });
}

/** No provider is configured for the model's provider name (FAILED_PRECONDITION). */
export function modelNotServed(model: string, provider: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.MODEL_NOT_AVAILABLE,
    message: `no provider is configured for ${model} (provider "${provider}"); set its API key`,
    metadata: { model, provider },
  });
}

/**
 * No candidate of a route has a provider configured: FAILED_PRECONDITION, as a call naming one of
 * them is, since no retry finds one until the configuration changes.
 */
export function routeNotServed(models: readonly { readonly id: string; readonly provider: string }[]): OrchestratorError {
  const [only] = models;
  if (only && models.length === 1) return modelNotServed(only.id, only.provider);
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.MODEL_NOT_AVAILABLE,
    message: `no provider is configured for any candidate of this route (${models.map((m) => `${m.id}: provider "${m.provider}"`).join(', ')}); set their API keys`,
    metadata: { models: models.map((m) => m.id).join(',') },
  });
}

/** Every candidate of a route is outside the API key's allow-list. */
export function routeNotAllowed(keyName: string, denied: readonly string[]): OrchestratorError {
  return new OrchestratorError({
    kind: 'permission_denied',
    reason: Reason.MODEL_NOT_ALLOWED,
    message: `API key "${keyName}" may not call any candidate of this route (${denied.join(', ')})`,
    metadata: { key: keyName, models: denied.join(',') },
  });
}

/** No candidate's context window holds the prompt (`reasons`: why each was excluded). */
export function promptTooLong(promptTokens: number, reasons: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'invalid_argument',
    reason: Reason.PROMPT_TOO_LONG,
    message: `no candidate's context window holds ${promptTokens} prompt tokens plus max_tokens`,
    fieldViolations: [{ field: 'messages', description: `${promptTokens} prompt tokens do not fit any candidate: ${reasons}` }],
  });
}

/**
 * No candidate can take the request now (breakers, providers, limits): retryable, after
 * `retryAfterMs` when open breakers say when.
 */
export function noEligibleModel(reasons: string, retryAfterMs?: number): OrchestratorError {
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.NO_ELIGIBLE_MODEL,
    message: `no model can take this request now: ${reasons || 'no candidates'}`,
    retryable: true,
    retryAfterMs,
  });
}

/** Several models were tried and all failed: each failure named, in order, every attempt attached. */
export function allAttemptsFailed(options: {
  readonly kind: ErrorKind;
  readonly failed: readonly AttemptRecord[];
  readonly attempts: readonly AttemptRecord[];
}): OrchestratorError {
  const { kind, failed, attempts } = options;
  const last = failed[failed.length - 1];
  const retryAfters = failed.map((a) => a.error?.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  const summary = failed.map((a) => `${a.model}: ${a.error?.message ?? a.outcome}`).join('; ');
  // Each failure's request as its upstream names it, for the provider's support.
  const requests = failed.map(failedRequestOf).filter((r): r is string => r !== undefined);
  const metadata: Record<string, string> = {};
  if (last?.error) {
    metadata.last_attempt_reason = last.error.reason;
    metadata.last_attempt_model = last.model;
  }
  if (requests.length > 0) metadata.upstream_request_ids = requests.join(',');
  // A request every model refused as invalid names its fields as one model's refusal does (BadRequest, HTTP `param`).
  const violations = kind === 'invalid_argument' ? failed.flatMap((a) => a.error?.fieldViolations ?? []) : [];
  return new OrchestratorError({
    kind,
    reason: Reason.ALL_ATTEMPTS_FAILED,
    message: `all ${failed.length} attempts failed: ${summary}`,
    retryable: failed.some((a) => a.error?.retryable === true),
    retryAfterMs: retryAfters.length > 0 ? Math.min(...retryAfters) : undefined,
    metadata,
    fieldViolations: violations,
    attempts,
  });
}
