import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIProvider } from '../../src/providers/openai/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../src/providers/types.js';
import type { TokenUsage } from '../../src/domain/chat.js';

/**
 * An OpenAI-compatible upstream that answers every chat request with `usage` as set (unary: in
 * the completion; streamed: in a last chunk of its own), and the provider's reading of it.
 */
export interface ReportedUsage {
  /** What the upstream reports from now on. */
  set(usage: object): void;
  /** The usage the provider reads from a unary answer and from a stream's end. */
  both(): Promise<[TokenUsage, TokenUsage | undefined]>;
  close(): Promise<void>;
}

export async function reportedUsageUpstream(provider: string, model: string): Promise<ReportedUsage> {
  let usage: object = {};
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const head = { id: 'c', created: 1, model };
      if (!(JSON.parse(raw) as { stream?: boolean }).stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const choices = [{ index: 0, message: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }];
        res.end(JSON.stringify({ ...head, object: 'chat.completion', choices, usage }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (body: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...body })}\n\n`;
      res.end(
        chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Paris.' }, finish_reason: null }] }) +
          chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
          chunk({ choices: [], usage }) +
          'data: [DONE]\n\n',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const request = (): ProviderRequest => ({
    upstreamModel: model,
    messages: [{ role: 'user', content: 'Name the capital of France.' }],
    temperature: 0,
    maxTokens: 1000,
    signal: new AbortController().signal,
  });
  return {
    set: (next) => {
      usage = next;
    },
    both: async () => {
      const client = new OpenAIProvider({ name: provider, baseURL, apiKey: 'k' });
      const unary = await client.complete(request());
      let end: ProviderStreamEvent | undefined;
      for await (const event of client.stream(request())) end = event;
      return [unary.usage, end?.type === 'end' ? end.usage : undefined];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
