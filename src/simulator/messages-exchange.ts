import type { IncomingMessage, ServerResponse } from 'node:http';
import { extend } from '../domain/extend.js';
import { planAnswer } from './answer-plan.js';
import { answerEarlyFault, type FaultErrorBody } from './early-fault.js';
import type { FaultBook, FaultRule } from './faults.js';
import { readBody, sendJson } from './http-io.js';
import { respondJsonWire } from './json-responder.js';
import { parseMessagesRequest, type SimMessagesRequest } from './messages-request.js';
import { respondMessageStream } from './messages-stream-responder.js';
import { anthropicErrorBody, anthropicErrorType, anthropicUsage, messageBody, stopOf } from './messages-wire.js';
import type { PromptCacheBook } from './prompt-cache.js';
import type { SimulatedModelProfile } from './profiles.js';
import type { MutableRecord, RequestLog } from './records.js';
import { watchResponse } from './response-watch.js';
import type { AnswerLength } from './text.js';

/** What POST /v1/messages shares with the OpenAI endpoint: faults, records, profiles, key. */
export interface MessagesEndpoint {
  readonly faults: FaultBook;
  readonly log: RequestLog;
  readonly profileOf: (model: string) => SimulatedModelProfile;
  readonly latencyScale: number;
  readonly answerLength: AnswerLength;
  /** When set, requests must carry it as `x-api-key` or as `Authorization: Bearer`. */
  readonly apiKey: string | undefined;
  /** The prompt prefixes requests asked to cache (`cache_control`). */
  readonly promptCache: PromptCacheBook;
}

/** The Anthropic shape names no rate limit apart: its type follows the status alone. */
const anthropicError: FaultErrorBody = (status, message) => anthropicErrorBody(anthropicErrorType(status), message);

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, anthropicError(status, message, false));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The API takes the key as `x-api-key`; SDK 1.x (API version 2026-10-21) sends it as
 * `Authorization: Bearer`, which the API accepts too.
 */
function isAuthorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  if (apiKey === undefined) return true;
  return headerValue(req, 'x-api-key') === apiKey || req.headers.authorization === `Bearer ${apiKey}`;
}

/**
 * Serves POST /v1/messages: checks the key and `anthropic-version` the Anthropic way, then
 * answers from the same text, profiles, fault rules and request log as chat completions.
 */
export async function handleMessages(req: IncomingMessage, res: ServerResponse, endpoint: MessagesEndpoint): Promise<void> {
  if (!isAuthorized(req, endpoint.apiKey)) {
    sendError(res, 401, 'invalid x-api-key');
    return;
  }
  const version = headerValue(req, 'anthropic-version');
  if (version === undefined || version.trim() === '') {
    sendError(res, 400, 'anthropic-version: header is required');
    return;
  }
  const body = await readBody(req);
  if (body.kind === 'aborted') return;
  if (body.kind === 'too_large') {
    sendError(res, 413, 'Request exceeds the maximum allowed number of bytes.');
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(body.text) as unknown;
  } catch {
    sendError(res, 400, 'There was an issue with your request body: it is not valid JSON.');
    return;
  }
  const parsed = parseMessagesRequest(value, version.trim());
  if (!parsed.ok) {
    sendError(res, 400, parsed.message);
    return;
  }
  const { request } = parsed;
  const fault = endpoint.faults.take(request.model);
  const record = endpoint.log.begin({
    model: request.model,
    stream: request.stream,
    body: value,
    headers: req.headers,
    fault: fault?.kind,
  });
  await runMessagesExchange({ req, res, request, fault, record, endpoint });
}

interface MessagesExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly request: SimMessagesRequest;
  readonly fault: FaultRule | undefined;
  readonly record: MutableRecord;
  readonly endpoint: MessagesEndpoint;
}

/** Answers one accepted message request, normally or as its fault rule says. */
async function runMessagesExchange(exchange: MessagesExchange): Promise<void> {
  const { req, res, request, fault, record, endpoint } = exchange;
  const watch = watchResponse(req, res, { record, log: endpoint.log });
  const requestId = { 'request-id': `req_sim_${record.id}` };

  if (await answerEarlyFault(res, fault, request.model, watch, requestId, anthropicError)) return;

  const answer = planAnswer({
    request: { ...request, includeUsage: true },
    profile: endpoint.profileOf(request.model),
    latencyScale: endpoint.latencyScale,
    answerLength: endpoint.answerLength,
    fault,
  });
  // The API counts the tools in the prompt, so that a marked tool has a prefix to cache.
  const plan = extend(answer, { promptTokens: answer.promptTokens + request.toolTokens });
  const identity = { id: `msg_sim_${record.id}`, model: request.model };
  const cache = endpoint.promptCache.use(request.breakpoints, plan.promptTokens);
  if (request.stream) {
    await respondMessageStream({ res, plan, identity, record, watch, cache });
    return;
  }
  await respondJsonWire({
    res,
    plan,
    record,
    watch,
    headers: requestId,
    render: (content) =>
      messageBody(identity, {
        text: content.text,
        toolCalls: plan.toolCalls,
        stop: content.finishReason === null ? null : stopOf(plan),
        usage: anthropicUsage(content.promptTokens, content.completionTokens, cache),
      }),
  });
}
