import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FaultRule } from './faults.js';
import { sendJson } from './http-io.js';
import type { ResponseWatch } from './response-watch.js';
import { sleep } from './timing.js';

/**
 * One wire's error body for a status; `rateLimited` marks the rate_limit fault, which the
 * OpenAI shape names in `code` too (an http_error of 429 does not).
 */
export type FaultErrorBody = (status: number, message: string, rateLimited: boolean) => unknown;

/**
 * The faults answered before any answer is planned (hang, http_error, rate_limit), in the
 * caller's wire shape; false when the rule (if any) is of another kind and the caller answers.
 */
export async function answerEarlyFault(
  res: ServerResponse,
  fault: FaultRule | undefined,
  model: string,
  watch: ResponseWatch,
  requestId: OutgoingHttpHeaders,
  errorBody: FaultErrorBody,
): Promise<boolean> {
  switch (fault?.kind) {
    case 'hang':
      // Never answer: the record stays open until the client (or close()) ends the socket.
      return true;
    case 'http_error': {
      if (!(await sleep(fault.delayMs ?? 0, watch.signal))) return true;
      const status = fault.status ?? 500;
      const headers = fault.retryAfter === undefined ? requestId : { ...requestId, 'retry-after': fault.retryAfter };
      sendJson(res, status, errorBody(status, `Simulated upstream error (HTTP ${status}).`, false), headers);
      return true;
    }
    case 'rate_limit': {
      if (!(await sleep(fault.delayMs ?? 0, watch.signal))) return true;
      const body = errorBody(429, `Simulated rate limit reached for ${model}.`, true);
      sendJson(res, 429, body, { ...requestId, 'retry-after': fault.retryAfter ?? '1' });
      return true;
    }
    default:
      return false;
  }
}
