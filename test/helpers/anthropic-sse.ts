import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AnthropicProvider } from '../../src/providers/anthropic/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../src/providers/types.js';

/** An Anthropic-compatible upstream on a free port that answers every request with the events set last. */
export interface AnthropicSse {
  /** The events of the next answers; `cut`: the response is destroyed after them instead of ended. */
  set(events: readonly object[], options?: { cut?: boolean }): void;
  provider(): AnthropicProvider;
  close(): Promise<void>;
}

/** `eventLines: false`: each event is its `data:` line alone, as a proxy that drops the `event:` lines sends it. */
export async function anthropicSseUpstream(options: { eventLines?: boolean } = {}): Promise<AnthropicSse> {
  const eventLines = options.eventLines ?? true;
  let events: readonly object[] = [];
  let cut = false;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const name = (e: object): string => (eventLines ? `event: ${(e as { type: string }).type}\n` : '');
      res.write(events.map((e) => `${name(e)}data: ${JSON.stringify(e)}\n\n`).join(''));
      if (cut) setTimeout(() => res.destroy(), 20);
      else res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    set: (next, setOptions) => {
      events = next;
      cut = setOptions?.cut ?? false;
    },
    provider: () => new AnthropicProvider({ name: 'a', baseURL: base, apiKey: 'k' }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const streamRequest = (extra: Partial<ProviderRequest> = {}): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'Name the capital of France, please.' }],
  temperature: 0,
  maxTokens: 100,
  signal: new AbortController().signal,
  ...extra,
});

/** The events a stream yields, and the error it ends with (undefined: it ended cleanly). */
export async function readStream(stream: AsyncIterable<ProviderStreamEvent>): Promise<{ seen: ProviderStreamEvent[]; error: unknown }> {
  const seen: ProviderStreamEvent[] = [];
  try {
    for await (const event of stream) seen.push(event);
  } catch (error) {
    return { seen, error };
  }
  return { seen, error: undefined };
}
