import { type ReasoningEffort, takesSampling } from '../domain/reasoning-models.js';
import type { SimChatRequest } from './chat-request.js';
import type { SimFinishReason } from './chat-wire.js';
import type { FaultRule } from './faults.js';
import type { SimulatedModelProfile } from './profiles.js';
import { countPromptTokens, generateText, tokenize, type AnswerLength } from './text.js';
import { formattedText, plannedToolCalls, toolResultPreface, type SimToolCall } from './tool-plan.js';

/** How an answer ends: normally, or as one of the body-level faults. */
export type AnswerEnding = 'normal' | 'cut' | 'truncate' | 'malformed';

/** Everything a responder needs, decided up front so the writers only write and wait. */
export interface AnswerPlan {
  /** The answer's tokens, already capped by max_tokens; for tool calls, their argument fragments. */
  readonly tokens: readonly string[];
  /** Set when the model answers with tool calls (finish reason tool_calls) instead of text. */
  readonly toolCalls?: readonly SimToolCall[] | undefined;
  /** Set when the tokens are a refusal (a `refusal` rule) rather than the answer. */
  readonly refusal?: true | undefined;
  readonly finishReason: SimFinishReason;
  /** The stop sequence the answer ended at (finish reason stop); the Messages API names it. */
  readonly stopSequence?: string | undefined;
  readonly promptTokens: number;
  /** Tokens a reasoning model thought before answering: never sent, counted in completion_tokens (OpenAI's API only). */
  readonly reasoningTokens: number;
  /** Wait before the first byte: fault delay, plus the scaled time to first token. */
  readonly firstByteDelayMs: number;
  /** Time between tokens; 0 means as fast as backpressure allows. */
  readonly tokenIntervalMs: number;
  readonly ending: AnswerEnding;
  /** For a faulty ending: how many token chunks go out before it. */
  readonly tokensBeforeFault: number;
}

const DEFAULT_DELAY_FAULT_MS = 1000;
/** What a model told to refuse says, whatever was asked. */
export const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";
const DEFAULT_SLOW_TOKENS_PER_SECOND = 2;
const DEFAULT_AFTER_TOKENS: Readonly<Record<AnswerEnding, number>> = {
  normal: 0,
  cut: 3,
  truncate: 3,
  malformed: 1,
};

export interface PlanInput {
  readonly request: SimChatRequest;
  readonly profile: SimulatedModelProfile;
  readonly latencyScale: number;
  readonly answerLength: AnswerLength;
  readonly fault: FaultRule | undefined;
}

/** How an answer under `fault` ends: whole, or broken as the rule says. */
export function endingOf(fault: FaultRule | undefined): AnswerEnding {
  switch (fault?.kind) {
    case 'cut':
    case 'truncate':
    case 'malformed':
      return fault.kind;
    default:
      return 'normal';
  }
}

/** The wait a fault rule puts before the first byte: its own delayMs, else a delay rule's default. */
export function faultDelayMs(fault: FaultRule | undefined): number {
  return fault?.delayMs ?? (fault?.kind === 'delay' ? DEFAULT_DELAY_FAULT_MS : 0);
}

/** The time a slow rule puts between tokens, or undefined for any other rule. */
export function slowTokenIntervalMs(fault: FaultRule | undefined): number | undefined {
  return fault?.kind === 'slow' ? 1000 / (fault.tokensPerSecond ?? DEFAULT_SLOW_TOKENS_PER_SECOND) : undefined;
}

/** Fault timings are wall-clock on purpose: they must still bite at latencyScale 0. */
export function planAnswer(input: PlanInput): AnswerPlan {
  const { request, profile, latencyScale, fault, answerLength } = input;
  const refusal = fault?.kind === 'refusal';
  const planned = refusal ? undefined : plannedToolCalls(request);
  const text = () => toolResultPreface(request) + generateText(request.model, request.messages, answerLength);
  const answer = () => (refusal ? REFUSAL_TEXT : (formattedText(request, text) ?? text()));
  const cut = planned ? undefined : cutAtStop(answer(), request.stop);
  const all = planned ? planned.flatMap((c) => c.fragments) : tokenize(cut?.text ?? '');
  const capped = request.maxTokens !== undefined && all.length > request.maxTokens;
  const tokens = capped ? all.slice(0, request.maxTokens) : all;
  const toolCalls = planned && capped ? keepFragments(planned, tokens.length) : planned;
  const ending = endingOf(fault);
  const faultDelay = faultDelayMs(fault);
  const tokenIntervalMs = slowTokenIntervalMs(fault) ?? (1000 / profile.tokensPerSecond) * latencyScale;
  return {
    tokens,
    ...(toolCalls ? { toolCalls } : {}),
    ...(refusal ? { refusal } : {}),
    finishReason: capped ? 'length' : toolCalls ? 'tool_calls' : 'stop',
    ...(cut?.stopSequence !== undefined && !capped ? { stopSequence: cut.stopSequence } : {}),
    promptTokens: countPromptTokens(request.messages),
    reasoningTokens: reasoningTokensOf(request, tokens.length),
    firstByteDelayMs: faultDelay + profile.ttftMs * latencyScale,
    tokenIntervalMs,
    ending,
    tokensBeforeFault: Math.min(tokens.length, fault?.afterTokens ?? DEFAULT_AFTER_TOKENS[ending]),
  };
}

/**
 * How long a reasoning model thinks at each reasoning_effort (medium when unset), in tokens: a
 * rough shape of OpenAI's, more effort, more thinking.
 */
const REASONING_TOKENS: Readonly<Record<ReasoningEffort, number>> = {
  none: 0,
  minimal: 16,
  low: 64,
  medium: 192,
  high: 512,
  xhigh: 1024,
  max: 2048,
};

/**
 * A model thinks where it runs at its own sampling (a reasoning model, or a GPT-5 version asked to
 * reason). Its thinking counts against max_completion_tokens as OpenAI's does; here it takes only
 * what the answer leaves, so the answer's text stays the same whatever the model.
 */
function reasoningTokensOf(request: SimChatRequest, answerTokens: number): number {
  if (takesSampling(request.model, request.reasoningEffort)) return 0;
  const planned = REASONING_TOKENS[request.reasoningEffort ?? 'medium'];
  return request.maxTokens === undefined ? planned : Math.max(0, Math.min(planned, request.maxTokens - answerTokens));
}

/**
 * The calls as far as `count` argument fragments reach, as a model cut off by max_tokens leaves
 * them: the last one's arguments end mid-JSON, the calls after it never started.
 */
function keepFragments(calls: readonly SimToolCall[], count: number): SimToolCall[] {
  const kept: SimToolCall[] = [];
  let left = count;
  for (const call of calls) {
    if (left <= 0) break;
    const fragments = call.fragments.slice(0, left);
    left -= fragments.length;
    kept.push({ ...call, fragments, arguments: fragments.join('') });
  }
  return kept;
}

/** The text before the earliest stop sequence it contains (the sequence itself is not sent), and that sequence. */
function cutAtStop(text: string, stop: readonly string[] | undefined): { text: string; stopSequence?: string } {
  let end = text.length;
  let stopSequence: string | undefined;
  for (const s of stop ?? []) {
    const at = text.indexOf(s);
    if (at >= 0 && at < end) {
      end = at;
      stopSequence = s;
    }
  }
  return stopSequence === undefined ? { text } : { text: text.slice(0, end), stopSequence };
}
