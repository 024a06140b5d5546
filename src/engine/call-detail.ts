import { performance } from 'node:perf_hooks';
import { addUsage, totalCost, type AttemptRecord, type TokenUsage, usageTotal } from '../domain/chat.js';
import type { ToolCall } from '../domain/tools.js';
import type { Answer } from './answer.js';
import type { CallContext } from './context.js';
import type { RouteDecision } from './routing/router.js';
import type { EngineStreamEvent } from './strategies/stream.js';

/**
 * What a call asked for and what it got, in the engine's own terms, whichever door it came
 * through: the engine tells the call's upstream observer (`requested`, `answered`), the door
 * tells it how the call failed, and `call_finished` carries it to listeners that keep records
 * (the ledger).
 */

/** The request as a record shows it. */
export interface CallRequestFacts {
  /** The model asked for: a name, several joined by commas (a chain or racers), or `route:<profile>`. */
  readonly model: string | undefined;
  /** The messages' text, joined by newlines (kept only when the ledger is asked to). */
  readonly prompt: string;
  /** Attempts of this call run in parallel (race, hedge). */
  readonly raced: boolean;
}

/** One answer the call produced (a Batch produces one per item). */
export interface CallAnswer {
  readonly content: string;
  /** The model's words declining to answer, when it refused with words. */
  readonly refusal?: string | undefined;
  /** The tools the model asked to call, when it called any. */
  readonly toolCalls?: readonly ToolCall[] | undefined;
  readonly model: string;
  readonly provider: string;
  readonly usage: TokenUsage;
  readonly costUsd: number;
  readonly attempts: readonly AttemptRecord[];
  readonly decision?: RouteDecision | undefined;
  readonly cache?: { readonly hit: boolean; readonly stale: boolean } | undefined;
  readonly fallbackTriggered?: boolean | undefined;
  readonly isDefaultMessage?: boolean | undefined;
  readonly timeToFirstTokenMs?: number | undefined;
  /** A Batch item's answer: how that item went, which its routing decision is judged by. */
  readonly item?: BatchItemFacts | undefined;
}

/** One Batch item as its record shows it. */
export interface BatchItemFacts {
  /** The item's index in the Batch. */
  readonly index: number;
  readonly ok: boolean;
  /** From when the item started running (past the Batch's and the process's queues) to its answer or failure. */
  readonly latencyMs: number;
}

/** A Batch item that failed after calling upstream: its attempts, their usage and cost, no text and no model. */
export function failedItemAnswer(attempts: readonly AttemptRecord[]): CallAnswer {
  const usage = usageTotal();
  for (const a of attempts) addUsage(usage, a.usage);
  return { content: '', model: '', provider: '', usage, costUsd: totalCost(attempts), attempts };
}

export interface CallDetail {
  readonly requestId: string;
  readonly keyName: string | undefined;
  /** Epoch ms when the call arrived. */
  readonly startedAtMs: number;
  readonly request: CallRequestFacts | undefined;
  readonly answers: readonly CallAnswer[];
  /** Why the call failed (an OrchestratorError, or anything else: a bug). */
  readonly error: unknown;
  /** Routing's decision, when the call was routed: an answer carries it too, a failure only here. */
  readonly decision?: RouteDecision | undefined;
  /** What a stream relayed: a stream that failed has no answer but this. */
  readonly relayed?: RelayedSoFar | undefined;
}

/** What a stream sent its client so far. */
export interface RelayedSoFar {
  /** The text, and a refusal's words as answerRecord writes them (of the last model, after a restart). */
  readonly text: string;
  /** From the call's arrival to its first delta; undefined before one. */
  readonly timeToFirstTokenMs: number | undefined;
  /** The model the text came from (the last one, after a restart); undefined before any text. */
  readonly model?: string | undefined;
  readonly provider?: string | undefined;
}

/**
 * The models the call was asked to run, as the request named them: the list when there is one
 * (it is what runs: the HTTP API's starts with `model`, gRPC's replaces it), else the one model.
 */
export function requestedName(first: string, list: readonly { readonly name: string }[]): string | undefined {
  return list.length > 0 ? list.map((m) => m.name).join(',') : first || undefined;
}

/** The messages as a record keeps them: each one's text and the tools it called, joined by newlines. */
export function promptOf(messages: readonly { readonly content: string; readonly toolCalls?: readonly ToolCall[] | undefined }[]): string {
  return messages.map((m) => withToolCalls(m.content, m.toolCalls)).join('\n');
}

/**
 * A message or an answer as a record keeps it: its text, then a line `tool_calls: ` with the
 * calls as JSON (one that called tools often has no text), so a conversation's calls read as
 * its answers' do.
 */
export function withToolCalls(content: string, calls: readonly ToolCall[] | undefined): string {
  if (!calls || calls.length === 0) return content;
  const listed = `tool_calls: ${JSON.stringify(calls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })))}`;
  return content === '' ? listed : `${content}\n${listed}`;
}

/**
 * An answer as a record keeps it: its text, then a line `refusal: ` with the words the model
 * declined with (a refusal has no text), then its tool calls as withToolCalls writes them.
 */
export function answerRecord(answer: Pick<CallAnswer, 'content' | 'refusal' | 'toolCalls'>): string {
  const { content, refusal } = answer;
  const text = refusal === undefined ? content : content === '' ? `refusal: ${refusal}` : `${content}\nrefusal: ${refusal}`;
  return withToolCalls(text, answer.toolCalls);
}

/** The answer as a record shows it, told to the call's observer; returns the answer unchanged. */
export function told<A extends Answer & { decision?: RouteDecision | undefined; fallbackTriggered?: boolean; isDefaultMessage?: boolean }>(
  ctx: CallContext,
  answer: A,
): A {
  ctx.upstream?.answered?.({
    content: answer.content,
    refusal: answer.refusal,
    toolCalls: answer.toolCalls,
    model: answer.model,
    provider: answer.provider,
    usage: answer.usage,
    costUsd: answer.costUsd,
    attempts: answer.attempts,
    decision: answer.decision,
    cache: answer.cache,
    fallbackTriggered: answer.fallbackTriggered,
    isDefaultMessage: answer.isDefaultMessage,
  });
  return answer;
}

/**
 * Follows a stream's events as the relay yields them and tells the call's observer the answer at
 * `completed`; undefined when nobody listens. A function the relay calls, not a generator around
 * it: a layer of async generator costs every delta a promise and a turn of the microtask queue.
 */
export function streamTeller(ctx: CallContext): ((event: EngineStreamEvent) => void) | undefined {
  const upstream = ctx.upstream;
  const answered = upstream?.answered;
  if (!answered) return undefined;
  const keepsText = upstream.keepsAnswerText === true;
  let content = '';
  let refusal: string | undefined;
  let firstDeltaMs: number | undefined;
  let cache: CallAnswer['cache'];
  let model: string | undefined;
  let provider: string | undefined;
  upstream.relaying?.(() =>
    firstDeltaMs === undefined
      ? { text: content, timeToFirstTokenMs: undefined }
      : { text: answerRecord({ content, refusal }), timeToFirstTokenMs: firstDeltaMs, model, provider },
  );
  return (event) => {
    if (event.type === 'delta') {
      if (keepsText) {
        content += event.content;
        if (event.refusal !== undefined) refusal = (refusal ?? '') + event.refusal;
      }
      firstDeltaMs ??= performance.now() - ctx.startedAt;
    } else if (event.type === 'started') {
      cache = event.cache;
      model = event.model;
      provider = event.provider;
    }
    // The answer starts over on the next model: what came before it is not part of the answer.
    else if (event.type === 'restarted') {
      content = '';
      refusal = undefined;
      model = event.nextModel;
      provider = event.nextProvider;
    } else if (event.type === 'completed') {
      answered.call(upstream, {
        content,
        refusal,
        toolCalls: event.toolCalls,
        model: event.model,
        provider: event.provider,
        usage: event.usage,
        costUsd: event.costUsd,
        attempts: event.attempts,
        decision: event.decision,
        cache,
        fallbackTriggered: event.fallbackTriggered,
        timeToFirstTokenMs: event.timeToFirstTokenMs,
      });
    }
  };
}
