import type { IncomingMessage, ServerResponse } from 'node:http';
import { planAnswer } from './answer-plan.js';
import type { AnswerLength } from './text.js';
import type { SimChatRequest } from './chat-request.js';
import type { FaultRule } from './faults.js';
import { answerEarlyFault, type FaultErrorBody } from './early-fault.js';
import { errorBody } from './http-io.js';
import { respondJson } from './json-responder.js';
import type { SimulatedModelProfile } from './profiles.js';
import type { MutableRecord, RequestLog } from './records.js';
import { watchResponse } from './response-watch.js';
import { respondStream } from './stream-responder.js';

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

/** The OpenAI shape of an early fault's error body. */
export const openAiFaultError: FaultErrorBody = (status, message, rateLimited) =>
  errorBody(message, rateLimited ? { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' } : { type: errorTypeFor(status) });

/** Answers one chat completion, normally or as its fault rule says. */
export async function runChatExchange(exchange: ChatExchange): Promise<void> {
  const { req, res, request, record, fault } = exchange;
  const watch = watchResponse(req, res, exchange);
  const requestId = { 'x-request-id': `sim-${record.id}` };
  if (await answerEarlyFault(res, fault, request.model, watch, requestId, openAiFaultError)) return;

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
