import { createHash } from 'node:crypto';
import type { ChatMessage, Sampling } from '../domain/chat.js';
import type { ContentPart, ToolDefinition, Tooling } from '../domain/tools.js';

/**
 * The cache key: everything that determines a deterministic answer. Fixed positions, not the
 * objects' own order, so the same request always hashes the same; a request without sampling
 * fields, tools, parts or tool calls keeps the key it had before they existed. Image bytes are
 * keyed by their SHA-256, not carried into the key material whole. Prompt cache markers are
 * left out: they change what the provider bills, not the answer.
 */
export function cacheKey(request: {
  /** Where the model is served too: a model pointed at another provider or upstream model (UpdateModel) must not answer with the old one's text. */
  model: { readonly id: string; readonly servedBy: string | undefined; readonly upstreamId: string };
  messages: readonly ChatMessage[];
  temperature: number;
  maxTokens: number;
  sampling?: Sampling | undefined;
  tooling?: Tooling | undefined;
}): string {
  const s = request.sampling;
  const sampling = s
    ? [s.topP ?? null, s.stop ?? null, s.seed ?? null, s.presencePenalty ?? null, s.frequencyPenalty ?? null, s.user ?? null]
    : [];
  // Only when set: the requests that do not set it keep the keys their answers are cached under.
  if (s?.reasoningEffort !== undefined) sampling.push(s.reasoningEffort);
  const t = request.tooling;
  const tooling = t
    ? [t.tools?.map(toolMaterial) ?? null, t.toolChoice ?? null, t.parallelToolCalls ?? null, t.responseFormat ?? null]
    : [];
  const { id, servedBy, upstreamId } = request.model;
  const material = JSON.stringify([
    [id, servedBy ?? null, upstreamId],
    request.messages.map(messageMaterial),
    request.temperature,
    request.maxTokens,
    ...sampling,
    ...(t ? [tooling] : []),
  ]);
  return createHash('sha256').update(material).digest('hex');
}

function messageMaterial(m: ChatMessage): unknown[] {
  const plain = [m.role, m.content];
  const parts = m.joinedParts ? undefined : m.parts;
  if (!parts && !m.toolCalls && m.toolCallId === undefined) return plain;
  return [...plain, parts?.map(partMaterial) ?? null, m.toolCalls ?? null, m.toolCallId ?? null];
}

/** A definition as it was keyed before markers existed: its fields in their own order, without `cache`. */
function toolMaterial(tool: ToolDefinition): ToolDefinition {
  if (!tool.cache) return tool;
  const { cache: _marker, ...definition } = tool;
  return definition;
}

function partMaterial(part: ContentPart): unknown {
  if (part.type === 'text') return ['text', part.text];
  const image = part.image;
  const source = 'url' in image ? ['url', image.url] : ['sha256', createHash('sha256').update(image.data).digest('hex'), image.mediaType];
  return ['image', ...source, part.detail ?? null];
}
