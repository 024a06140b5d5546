import type { ContentBlock, Message, StopReason } from '@anthropic-ai/sdk/resources/messages';
import type { FinishReason } from '../../domain/chat.js';
import type { ProviderCompletion, ProviderRequest } from '../types.js';
import { withCalls } from '../openai/answer-fields.js';
import { malformed, truncated } from '../upstream-errors.js';
import { toolCallsOf } from './tooling.js';
import { countsOf, estimatedUsage, tokenUsageOf } from './usage.js';

/** A unary answer read from the Message the API sent, whose shape is the upstream's word: checked, not trusted. */
export function completionOf(provider: string, message: Message, request: ProviderRequest): ProviderCompletion {
  if (message === null || typeof message !== 'object' || !Array.isArray(message.content)) {
    throw malformed(provider, 'response (no content array)');
  }
  if (message.stop_reason === null || message.stop_reason === undefined) {
    throw truncated(provider, 'the response has no stop_reason');
  }
  let content: string;
  let toolCalls: ReturnType<typeof toolCallsOf>;
  try {
    content = textOf(message.content);
    toolCalls = toolCallsOf(message.content);
  } catch (err) {
    // The upstream's answer is input: a block of another shape than the API's is refused.
    throw malformed(provider, `response (${(err as Error).message})`);
  }
  const usage = message.usage ? countsOf(message.usage) : undefined;
  // Thinking is billed as output tokens: counted when the estimate stands in for the upstream's report.
  const thinking = thinkingOf(message.content);
  const generated = content + (toolCalls?.map((c) => c.name + c.arguments).join('') ?? '') + thinking;
  return {
    content,
    // A compatible server in front of an engine that ends tool calls with "stop" (vLLM) says end_turn.
    finishReason: withCalls(finishReasonOf(message.stop_reason), toolCalls !== undefined),
    ...(usage ? { usage: tokenUsageOf(usage) } : { usage: estimatedUsage(request, generated), usageEstimated: true }),
    ...(toolCalls ? { toolCalls } : {}),
    ...(thinking.length > 0 ? { thoughtChars: thinking.length } : {}),
  };
}

export function finishReasonOf(reason: StopReason | string): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // pause_turn (a server tool turn to be continued) and reasons newer than this code.
      return 'unknown';
  }
}

function textOf(blocks: readonly ContentBlock[]): string {
  let text = '';
  for (const block of blocks as readonly (ContentBlock | null)[]) {
    if (block === null || typeof block !== 'object') throw new TypeError('a content block is not an object');
    if (block.type !== 'text') continue;
    if (typeof block.text !== 'string') throw new TypeError('a text block without text');
    text += block.text;
  }
  return text;
}

/** The answer's thinking blocks' text (not relayed, but billed). */
function thinkingOf(blocks: readonly ContentBlock[]): string {
  let thinking = '';
  for (const block of blocks) if (block.type === 'thinking' && typeof block.thinking === 'string') thinking += block.thinking;
  return thinking;
}
