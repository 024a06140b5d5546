import { createHash } from 'node:crypto';
import type { ChatMessage, Sampling } from '../domain/chat.js';

/** The cache key: everything that determines a deterministic answer. */
export function cacheKey(request: {
  model: string;
  messages: readonly ChatMessage[];
  temperature: number;
  maxTokens: number;
  sampling?: Sampling | undefined;
}): string {
  const s = request.sampling;
  // Fixed positions, not the object's own order: the same request always hashes the same. A
  // request without sampling fields keeps the key it had before they existed.
  const sampling = s
    ? [s.topP ?? null, s.stop ?? null, s.seed ?? null, s.presencePenalty ?? null, s.frequencyPenalty ?? null, s.user ?? null]
    : [];
  const material = JSON.stringify([
    request.model,
    request.messages.map((m) => [m.role, m.content]),
    request.temperature,
    request.maxTokens,
    ...sampling,
  ]);
  return createHash('sha256').update(material).digest('hex');
}
