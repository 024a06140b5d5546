import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeConfigFile } from './config-file.js';
import { startHarness, type Harness } from './harness.js';

/** What the local upstream answers: a unary completion's message, a stream's deltas, both ending with `finishReason` and `usage` (none: no usage reported). */
export interface LocalAnswer {
  readonly message: object;
  readonly deltas: readonly object[];
  readonly finishReason: string;
  readonly usage?: object | undefined;
}

/**
 * A gateway whose one model, `local-chat` (1 and 2 USD per million tokens), is served by an
 * OpenAI-compatible upstream on a free port that answers every request with `answer()`.
 * `modelFields`: more YAML fields for the model (`capabilities: { tools: true }`).
 */
export async function localOpenAiGateway(
  answer: () => LocalAnswer,
  modelFields = '',
): Promise<{ readonly h: Harness; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const { message, deltas, finishReason, usage } = answer();
      const head = { id: 'c', created: 1, model: 'local-1' };
      const reported = usage === undefined ? {} : { usage };
      if (!(JSON.parse(text) as { stream?: boolean }).stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const choices = [{ index: 0, message, finish_reason: finishReason }];
        res.end(JSON.stringify({ ...head, object: 'chat.completion', choices, ...reported }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (fields: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...fields })}\n\n`;
      for (const delta of deltas) res.write(chunk({ choices: [{ index: 0, delta, finish_reason: null }] }));
      res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: finishReason }] }));
      res.end(`${usage === undefined ? '' : chunk({ choices: [], usage })}data: [DONE]\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const file = writeConfigFile(`providers:
  - { name: local, kind: openai, base_url: "http://127.0.0.1:${(server.address() as AddressInfo).port}/v1", api_key_env: LOCAL_KEY }
include_builtin_models: false
models:
  - { id: local-chat, provider: local, upstream_id: "local-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: l, tier: small, quality: 0.5${modelFields ? `, ${modelFields}` : ''} }
`);
  const h = await startHarness({
    noOpenAiShorthand: true,
    env: { CONFIG_FILE: file, DEFAULT_MODEL: 'local-chat' },
    processEnv: { LOCAL_KEY: 'k' },
  });
  return {
    h,
    close: async () => {
      await h.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
