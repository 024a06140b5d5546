import type { Sampling } from './chat.js';

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5, gpt-5-mini, gpt-5-nano and their dated
 * snapshots) answer any temperature but their fixed default with HTTP 400 ("Unsupported value:
 * 'temperature' does not support 0.7 with this model"), `max_tokens` with HTTP 400 too (they
 * take `max_completion_tokens`), and the sampling parameters of REFUSED_SAMPLING with HTTP 400
 * (unsupported_parameter). A request always carries a temperature (DEFAULT_TEMPERATURE when the
 * caller set none), so it is not sent to them; the sampling parameters are the caller's, so a
 * request that sets one needs another model. An upstream id may carry a vendor prefix
 * (openai/gpt-5 on OpenRouter): the name after the last slash decides.
 */
const REASONING = /^(o[134](-mini|-pro|-preview)?|gpt-5(-mini|-nano|-pro)?)(-\d{4}-\d{2}-\d{2})?$/;

/** Per upstream model, answered once: a provider serves a handful of models, and every request asks. */
const answers = new Map<string, boolean>();

export function isReasoningModel(upstreamModel: string): boolean {
  let reasoning = answers.get(upstreamModel);
  if (reasoning === undefined) {
    reasoning = REASONING.test(upstreamModel.slice(upstreamModel.lastIndexOf('/') + 1).toLowerCase());
    // Bounded: upstream ids come from the catalog, but a runaway list must not grow without end.
    if (answers.size < 1_000) answers.set(upstreamModel, reasoning);
  }
  return reasoning;
}

export function takesTemperature(upstreamModel: string): boolean {
  return !isReasoningModel(upstreamModel);
}

/** The sampling parameters reasoning models refuse, by the Chat Completions names callers and the API use. */
export const REFUSED_SAMPLING = {
  topP: 'top_p',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
} as const satisfies Partial<Record<keyof Sampling, string>>;

const REFUSED_KEYS = Object.keys(REFUSED_SAMPLING) as (keyof typeof REFUSED_SAMPLING)[];
const NONE: readonly string[] = [];

/**
 * The refused sampling parameters a request sets, by their API names; empty when it sets none.
 * Every call asks, and nearly none sets one: that answer makes no array.
 */
export function refusedSamplingOf(sampling: Sampling | undefined): readonly string[] {
  if (!sampling) return NONE;
  let set: string[] | undefined;
  for (const k of REFUSED_KEYS) {
    if (sampling[k] === undefined) continue;
    set ??= [];
    set.push(REFUSED_SAMPLING[k]);
  }
  return set ?? NONE;
}
