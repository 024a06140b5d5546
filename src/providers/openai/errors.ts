import type { OrchestratorError } from '../../domain/errors.js';
import { type AccountRefusal, CHECK_BILLING, upstreamAuthFailed } from '../../domain/upstream-errors.js';
import { statusMetadata } from '../upstream-errors.js';

const INSUFFICIENT_QUOTA = 'insufficient_quota';

const QUOTA_USED_UP: AccountRefusal = { said: 'its quota is used up', remedy: CHECK_BILLING };

/**
 * OpenAI's answer to an account with no quota left (no credits, a billing hard limit reached): a
 * 429 whose error's code or type is `insufficient_quota` (older answers set the type alone, code
 * null). Every request gets it until someone pays, so waiting and retrying cannot help: it fails
 * as a 402 does. Any other answer, a plain 429 included, is undefined and goes by its status.
 */
export function accountRefused(
  provider: string,
  answer: { readonly status: number; readonly code: unknown; readonly type: unknown; readonly requestId: string | undefined },
): OrchestratorError | undefined {
  const { status, code, type, requestId } = answer;
  if (status !== 429 || (code !== INSUFFICIENT_QUOTA && type !== INSUFFICIENT_QUOTA)) return undefined;
  return upstreamAuthFailed(provider, status, statusMetadata(provider, status, requestId), QUOTA_USED_UP);
}

/**
 * The same, read from an error answer's body as it came (`{"error": {...}}`); undefined for a body
 * that was not read in time, is not JSON, or says something else.
 */
export function accountRefusedIn(
  provider: string,
  answer: { readonly status: number; readonly text: string | undefined; readonly requestId: string | undefined },
): OrchestratorError | undefined {
  const { status, text, requestId } = answer;
  // Parsed only when it can be the quota answer: a rate limit's body is not.
  if (status !== 429 || text === undefined || !text.includes(INSUFFICIENT_QUOTA)) return undefined;
  let error: unknown;
  try {
    const parsed: unknown = JSON.parse(text);
    error = parsed !== null && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
  } catch {
    return undefined;
  }
  if (error === null || typeof error !== 'object') return undefined;
  const { code, type } = error as { code?: unknown; type?: unknown };
  return accountRefused(provider, { status, code, type, requestId });
}
