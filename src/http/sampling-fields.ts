import { checkSampling, checkTags, SAMPLING_LIMITS, type RequestTags, type Sampling } from '../domain/chat.js';
import { isReasoningEffort, REASONING_EFFORTS, type ReasoningEffort } from '../domain/reasoning-models.js';

import { shown } from './body-fields.js';

type Add = (field: string, description: string) => void;

/**
 * The OpenAI sampling fields (top_p, stop, seed, presence_penalty, frequency_penalty, user,
 * reasoning_effort) and `metadata` (our request tags, with OpenAI's own bounds), spelled as the
 * OpenAI body spells them; the ranges are the ones the gRPC API checks.
 */
export function parseSamplingFields(
  body: Readonly<Record<string, unknown>>,
  add: Add,
): { sampling: Sampling | undefined; tags: RequestTags | undefined } {
  const raw: Sampling = {
    topP: numberField(add, 'top_p', body.top_p),
    stop: stopField(add, body.stop),
    seed: integerField(add, 'seed', body.seed),
    presencePenalty: numberField(add, 'presence_penalty', body.presence_penalty),
    frequencyPenalty: numberField(add, 'frequency_penalty', body.frequency_penalty),
    user: stringField(add, 'user', body.user),
    reasoningEffort: effortField(add, body.reasoning_effort),
  };
  const checked = checkSampling(raw, (name) => name);
  const tags = checkTags(tagsField(add, body.metadata), 'metadata');
  for (const v of checked.violations) add(v.field, v.description);
  for (const v of tags.violations) add(v.field, v.description);
  return { sampling: checked.sampling, tags: tags.tags };
}

function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

function numberField(add: Add, field: string, value: unknown): number | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  add(field, `must be a number (got ${shown(value)})`);
  return undefined;
}

function integerField(add: Add, field: string, value: unknown): number | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  add(field, `must be an integer (got ${shown(value)})`);
  return undefined;
}

function stringField(add: Add, field: string, value: unknown): string | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'string') return value;
  add(field, 'must be a string');
  return undefined;
}

/** Spelled exactly as the API spells it: the API refuses "LOW". */
function effortField(add: Add, value: unknown): ReasoningEffort | undefined {
  if (isAbsent(value)) return undefined;
  if (isReasoningEffort(value)) return value;
  add('reasoning_effort', `must be one of ${REASONING_EFFORTS.join(', ')} (got ${shown(value)})`);
  return undefined;
}

/** OpenAI's `stop`: one string or an array of up to 4. */
function stopField(add: Add, value: unknown): string[] | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((s): s is string => typeof s === 'string')) return value;
  add('stop', `must be a string or an array of at most ${SAMPLING_LIMITS.maxStop} strings`);
  return undefined;
}

/** An object; its values are checkTags' to check, which counts the keys before it reads any (a walk over 200,000 of them is slow). */
function tagsField(add: Add, value: unknown): Record<string, string> | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, string>;
  add('metadata', 'must be an object whose values are strings');
  return undefined;
}
