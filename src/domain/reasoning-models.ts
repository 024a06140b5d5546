import type { Sampling } from './chat.js';

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5, gpt-5-mini, gpt-5-nano and their dated
 * snapshots) answer any temperature but their fixed default with HTTP 400 ("Unsupported value:
 * 'temperature' does not support 0.7 with this model"), `max_tokens` with HTTP 400 too (they
 * take `max_completion_tokens`), and the sampling parameters of REFUSED_SAMPLING with HTTP 400
 * (unsupported_parameter), as all but o1 and o3-mini do `stop` (TAKES_STOP). A request always
 * carries a temperature (DEFAULT_TEMPERATURE when the caller set none), so it is not sent to
 * them; the sampling parameters are the caller's, so a request that sets one needs another
 * model. An upstream id may carry a vendor prefix (openai/gpt-5 on OpenRouter): the name after
 * the last slash decides.
 */
const REASONING = /^(o[134](-mini|-pro|-preview)?|gpt-5(-mini|-nano)?|gpt-5(\.\d+)?-pro)(-\d{4}-\d{2}-\d{2})?$/;

/**
 * The GPT-5 versions after gpt-5 (gpt-5.1, gpt-5.2, their -mini and -nano; the -pro ones always
 * reason) reason only when asked: with reasoning_effort unset or `none`, their default, they take
 * a temperature, top_p and the penalties as other models do; with a higher level they refuse them
 * as the reasoning models do.
 */
const ADAPTIVE = /^gpt-5\.\d+(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?$/;

type Kind = 'reasoning' | 'adaptive' | 'plain';

/**
 * The reasoning_effort levels OpenAI documents for its models (by name without a snapshot date):
 * it answers any other level with HTTP 400 (unsupported_value). Models before gpt-5.1 take no
 * `none`, `minimal` came with gpt-5, `xhigh` after gpt-5.1-codex-max and `max` later still. A
 * model not listed here takes every level: which ones it refuses is its upstream's to say.
 */
const DOCUMENTED_EFFORTS: readonly (readonly [RegExp, readonly ReasoningEffort[]])[] = [
  // Older than reasoning_effort itself: OpenAI answers it there with "Unknown parameter".
  [/^o1-(mini|preview)$/, []],
  [/^o[134](-mini|-pro|-preview)?$/, ['low', 'medium', 'high']],
  [/^gpt-5(-mini|-nano)?$/, ['minimal', 'low', 'medium', 'high']],
  [/^gpt-5-pro$/, ['high']],
  [/^gpt-5\.1$/, ['none', 'low', 'medium', 'high']],
  [/^gpt-5\.2$/, ['none', 'low', 'medium', 'high', 'xhigh']],
];

/**
 * The reasoning models that take `stop` (by name without a snapshot date): o1 and o3-mini. The
 * others (o3 and its variants, o4-mini, every GPT-5 model, at any reasoning effort) answer it
 * with HTTP 400 (unsupported_parameter); a plain model takes it, or its upstream says otherwise.
 */
const TAKES_STOP = /^(o1(-mini|-pro|-preview)?|o3-mini)$/;

/**
 * The o-series (o1, o3, o4-mini and their variants, by name without a snapshot date) answer
 * `parallel_tool_calls`, true or false, with HTTP 400 (unsupported_parameter); the GPT-5 models
 * take it.
 */
const REFUSES_PARALLEL_TOOL_CALLS = /^o[134](-mini|-pro|-preview)?$/;

const SNAPSHOT_DATE = /-\d{4}-\d{2}-\d{2}$/;

interface Traits {
  readonly kind: Kind;
  /** The reasoning_effort levels it takes; none for a plain model. */
  readonly efforts: readonly ReasoningEffort[];
  readonly takesStop: boolean;
  readonly takesParallelToolCalls: boolean;
}

/** Per upstream model, answered once: a provider serves a handful of models, and every request asks. */
const traits = new Map<string, Traits>();

function traitsOf(upstreamModel: string): Traits {
  let found = traits.get(upstreamModel);
  if (found === undefined) {
    const slash = upstreamModel.lastIndexOf('/');
    const name = upstreamModel.slice(slash + 1).toLowerCase();
    const kind: Kind = REASONING.test(name) ? 'reasoning' : ADAPTIVE.test(name) ? 'adaptive' : 'plain';
    // A vendor prefix (openai/o1) is an aggregator's name: OpenRouter maps every level onto one
    // the model takes, so only OpenAI's own names are held to OpenAI's levels.
    const bare = name.replace(SNAPSHOT_DATE, '');
    const documented = slash < 0 ? DOCUMENTED_EFFORTS.find(([pattern]) => pattern.test(bare))?.[1] : undefined;
    found = {
      kind,
      efforts: kind === 'plain' ? [] : (documented ?? REASONING_EFFORTS),
      takesStop: kind === 'plain' || TAKES_STOP.test(bare),
      takesParallelToolCalls: kind !== 'reasoning' || !REFUSES_PARALLEL_TOOL_CALLS.test(bare),
    };
    // Bounded: upstream ids come from the catalog, but a runaway list must not grow without end.
    if (traits.size < 1_000) traits.set(upstreamModel, found);
  }
  return found;
}

function kindOf(upstreamModel: string): Kind {
  return traitsOf(upstreamModel).kind;
}

export function isReasoningModel(upstreamModel: string): boolean {
  return kindOf(upstreamModel) === 'reasoning';
}

/** The reasoning_effort levels the model takes: none for a model that does not reason, every level when OpenAI documents none. */
export function reasoningEffortsOf(upstreamModel: string): readonly ReasoningEffort[] {
  return traitsOf(upstreamModel).efforts;
}

/**
 * Whether the model takes reasoning_effort (the reasoning models, and the GPT-5 versions that
 * reason when asked), and at `effort` when given, that level.
 */
export function takesReasoningEffort(upstreamModel: string, effort?: ReasoningEffort): boolean {
  const efforts = reasoningEffortsOf(upstreamModel);
  return effort === undefined ? efforts.length > 0 : efforts.includes(effort);
}

/**
 * Whether the model samples as asked at this reasoning effort: takes a temperature (else it is
 * left out) and the parameters of REFUSED_SAMPLING (else a request setting one needs another model).
 */
export function takesSampling(upstreamModel: string, effort?: ReasoningEffort): boolean {
  const kind = kindOf(upstreamModel);
  return kind === 'plain' || (kind === 'adaptive' && (effort === undefined || effort === 'none'));
}

/** Whether the model takes `stop` (else a request setting it needs another model), whatever the reasoning effort. */
export function takesStop(upstreamModel: string): boolean {
  return traitsOf(upstreamModel).takesStop;
}

/** Whether the model takes `parallel_tool_calls` (else a request setting it, to either value, needs another model). */
export function takesParallelToolCalls(upstreamModel: string): boolean {
  return traitsOf(upstreamModel).takesParallelToolCalls;
}

/** The sampling parameters reasoning models refuse, by the Chat Completions names callers and the API use. */
export const REFUSED_SAMPLING = {
  topP: 'top_p',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
} as const satisfies Partial<Record<keyof Sampling, string>>;

/** The stop sequences, refused by the models takesStop says no for, by their Chat Completions name. */
export const REFUSED_STOP = {
  stop: 'stop',
} as const satisfies Partial<Record<keyof Sampling, string>>;

/**
 * The levels of the Chat Completions `reasoning_effort`, as the openai SDK types them. Not every
 * reasoning model takes every level: reasoningEffortsOf says which one does.
 */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;

export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export function isReasoningEffort(value: unknown): value is ReasoningEffort {
  return (REASONING_EFFORTS as readonly unknown[]).includes(value);
}

/** The sampling parameters only reasoning models take (the others answer them with HTTP 400, unsupported_parameter). */
export const REASONING_ONLY_SAMPLING = {
  reasoningEffort: 'reasoning_effort',
} as const satisfies Partial<Record<keyof Sampling, string>>;

type Names = Readonly<Partial<Record<keyof Sampling, string>>>;

const NONE: readonly string[] = [];

/**
 * The parameters of `names` a request sets, by their API names; empty when it sets none.
 * Every call asks, and nearly none sets one: that answer makes no array.
 */
function setOf(sampling: Sampling | undefined, names: Names): readonly string[] {
  if (!sampling) return NONE;
  let set: string[] | undefined;
  for (const k in names) {
    if (sampling[k as keyof Sampling] === undefined) continue;
    set ??= [];
    set.push(names[k as keyof Sampling] as string);
  }
  return set ?? NONE;
}

/** The sampling parameters reasoning models refuse that a request sets. */
export function refusedSamplingOf(sampling: Sampling | undefined): readonly string[] {
  return setOf(sampling, REFUSED_SAMPLING);
}

/** `stop`, when a request sets it. */
export function refusedStopOf(sampling: Sampling | undefined): readonly string[] {
  return setOf(sampling, REFUSED_STOP);
}

/** The sampling parameters only reasoning models take that a request sets. */
export function reasoningSamplingOf(sampling: Sampling | undefined): readonly string[] {
  return setOf(sampling, REASONING_ONLY_SAMPLING);
}
