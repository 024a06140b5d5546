import { PROMPT_CACHE_TTLS, type PromptCache, type PromptCacheTtl } from '../domain/prompt-cache.js';
import { isObject, shown, type Violations } from './body-fields.js';

/**
 * `cache_control` on a message, a content part or a tool, as OpenRouter and LiteLLM take it in
 * the OpenAI format: `{ "type": "ephemeral" }`, with `"ttl": "5m"` (the default) or `"1h"`.
 * Null is absent; another type, ttl or field is refused by name.
 */
export function parseCacheControl(raw: unknown, field: string, v: Violations): { cache?: PromptCache } {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) {
    v.add(field, 'must be an object: { "type": "ephemeral" }, optionally with "ttl": "5m" or "1h"');
    return {};
  }
  for (const key of Object.keys(raw))
    if (key !== 'type' && key !== 'ttl' && raw[key] !== null) v.add(`${field}.${key}`, 'is not a cache_control field');
  if (raw.type !== 'ephemeral') v.add(`${field}.type`, `must be "ephemeral" (got ${shown(raw.type)})`);
  const ttl = raw.ttl ?? '5m';
  if (!PROMPT_CACHE_TTLS.includes(ttl as PromptCacheTtl)) v.add(`${field}.ttl`, `must be "5m" or "1h" (got ${shown(raw.ttl)})`);
  return { cache: { ttl: ttl === '1h' ? '1h' : '5m' } };
}
