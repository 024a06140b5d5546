import { createHash } from 'node:crypto';
import type { ChatMessage } from '../domain/chat.js';

/** The cache key: everything that determines a deterministic answer. */
export function cacheKey(request: { model: string; messages: readonly ChatMessage[]; temperature: number; maxTokens: number }): string {
  const material = JSON.stringify([request.model, request.messages.map((m) => [m.role, m.content]), request.temperature, request.maxTokens]);
  return createHash('sha256').update(material).digest('hex');
}
