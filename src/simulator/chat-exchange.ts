import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { planAnswer } from './answer-plan.js';
import type { AnswerLength } from './text.js';
import type { SimChatRequest } from './chat-request.js';
import type { FaultRule } from './faults.js';
import { errorBody, sendJson } from './http-io.js';
import { respondJson } from './json-responder.js';
import type { SimulatedModelProfile } from './profiles.js';
import type { MutableRecord, RequestLog } from './records.js';
import { watchResponse, type ResponseWatch } from './response-watch.js';
import { respondStream } from './stream-responder.js';
import { sleep } from './timing.js';

/** One accepted chat completion request, with the fault rule (if any) already taken. */
export interface ChatExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly request: SimChatRequest;
  readonly profile: SimulatedModelProfile;
  readonly latencyScale: number;
  readonly answerLength: AnswerLength;
  readonly fault: FaultRule | undefined;
  readonly record: MutableRecord;
  readonly log: RequestLog;
}

function errorTypeFor(status: number): string {
  if (status >= 500) return 'server_error';
  if (status === 429) return 'rate_limit_exceeded';
  return 'invalid_request_error';
}

/**
 * The faults answered before any answer is planned (hang, http_error, rate_limit), in the
 * OpenAI shape; false when the rule (if any) is of another kind and the caller answers.
 */
export async function answerEarlyFault(
  res: ServerResponse,
  fault: FaultRule | undefined,
  model: string,
  watch: ResponseWatch,
  requestId: OutgoingHttpHeaders,
): Promise<boolean> {
  switch (fault?.kind) {
    case 'hang':
      // Never answer: the record stays open until the client (or close()) ends the socket.
      return true;
    case 'http_error': {
      if (!(await sleep(fault.delayMs ?? 0, watch.signal))) return true;
      const status = fault.status ?? 500;
      const headers = fault.retryAfter === undefined ? requestId : { ...requestId, 'retry-after': fault.retryAfter };
      const body = errorBody(`Simulated upstream error (HTTP ${status}).`, { type: errorTypeFor(status) });
      sendJson(res, status, body, headers);
      return true;
    }
    case 'rate_limit': {
      if (!(await sleep(fault.delayMs ?? 0, watch.signal))) return true;
      const body = errorBody(`Simulated rate limit reached for ${model}.`, {
        type: 'rate_limit_exceeded',
        code: 'rate_limit_exceeded',
      });
      sendJson(res, 429, body, { ...requestId, 'retry-after': fault.retryAfter ?? '1' });
      return true;
    }
    default:
      return false;
  }
}

/** Answers one chat completion, normally or as its fault rule says. */
export async function runChatExchange(exchange: ChatExchange): Promise<void> {
  const { req, res, request, record, fault } = exchange;
  const watch = watchResponse(req, res, exchange);
  const requestId = { 'x-request-id': `sim-${record.id}` };
  if (await answerEarlyFault(res, fault, request.model, watch, requestId)) return;

  const plan = planAnswer(exchange);
  const identity = {
    id: `chatcmpl-sim-${record.id}`,
    created: Math.floor(Date.now() / 1000),
    model: request.model,
  };
  const answer = { res, plan, identity, record, watch };
  if (request.stream) await respondStream({ ...answer, includeUsage: request.includeUsage });
  else await respondJson(answer);
}
