import type { ServerResponse } from 'node:http';

/**
 * Answers with a unary Chat Completions body as OpenAI sends it: one choice holding `message`,
 * ended with finish reason stop, and `usage` when given.
 */
export function sendChatCompletion(
  res: ServerResponse,
  message: object,
  options: { readonly model?: unknown; readonly usage?: { readonly prompt: number; readonly completion: number } } = {},
): void {
  const { model = 'm', usage } = options;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: 'stop' }],
      ...(usage
        ? { usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion } }
        : {}),
    }),
  );
}
