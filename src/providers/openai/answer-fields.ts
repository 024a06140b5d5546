import type { FinishReason } from '../../domain/chat.js';

/**
 * OpenRouter's "error" (the provider failed mid-answer), vLLM's "abort" and DeepSeek's
 * "insufficient_system_resource" (the request interrupted for lack of capacity): the answer is cut, not whole.
 */
export const failedFinish = (reason: unknown): boolean =>
  reason === 'error' || reason === 'abort' || reason === 'insufficient_system_resource';

export function finishReasonOf(reason: string): FinishReason {
  switch (reason) {
    case 'stop':
    case 'length':
    case 'content_filter':
    case 'tool_calls':
      return reason;
    case 'function_call':
      return 'tool_calls';
    // Together's, TGI's and Mistral's names for the same ends.
    case 'eos':
    case 'eos_token':
    case 'stop_sequence':
      return 'stop';
    case 'model_length':
      return 'length';
    // Anthropic's stop reasons, which gateways in front of Bedrock pass through (a tool_use end has calls: withCalls reads it).
    case 'end_turn':
      return 'stop';
    case 'max_tokens':
      return 'length';
    default:
      return 'unknown';
  }
}

/**
 * An answer that calls tools asks for them to be run, whatever reason ended it normally: OpenAI
 * (a forced tool_choice), vLLM and older Ollama end such answers with "stop", Anthropic with tool_use.
 */
export function withCalls(reason: FinishReason, called: boolean): FinishReason {
  return called && (reason === 'stop' || reason === 'unknown') ? 'tool_calls' : reason;
}

export const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** A message's or delta's thinking: vLLM's `reasoning_content`, Ollama's and OpenRouter's `reasoning`. */
export function reasoningOf(message: object | null | undefined): unknown {
  const m = message as { reasoning_content?: unknown; reasoning?: unknown } | null | undefined;
  return isText(m?.reasoning_content) ? m?.reasoning_content : m?.reasoning;
}
