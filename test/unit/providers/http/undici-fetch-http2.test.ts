/**
 * HTTP/2 to an upstream (the provider's `http2`): concurrent calls share one connection, a
 * streamed chat works over it through the openai SDK and our SSE decoder, cancelling one call
 * resets only its HTTP/2 stream, and a server that does not agree to HTTP/2 is refused rather
 * than spoken to in HTTP/1.1.
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import { createUndiciFetch } from '../../../../src/providers/http/undici-fetch.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../../src/providers/types.js';
import { makeCertificates } from '../../../helpers/tls.js';

const certs = makeCertificates();
const ca = readFileSync(certs.ca);

/** What the HTTP/2 upstream saw. */
const sessions = new Set<http2.ServerHttp2Session>();
/** Streams the client reset (RST_STREAM) before the server finished its answer. */
const resets: string[] = [];
const completed: string[] = [];
let server: http2.Http2SecureServer;
let base = '';
/** An https server that speaks HTTP/1.1 only. */
let h1Server: https.Server;
let h1Base = '';

const chunk = (content: string | null, finish: string | null, usage?: object): string =>
  `data: ${JSON.stringify({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  })}\n\n`;

beforeAll(async () => {
  server = http2.createSecureServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) });
  server.on('session', (session) => sessions.add(session));
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    let aborted = false;
    stream.on('aborted', () => {
      aborted = true;
      resets.push(path);
    });
    stream.on('close', () => {
      if (!aborted) completed.push(path);
    });
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      if (path.startsWith('/endless')) {
        // One event every 20 ms until the client goes away.
        const timer = setInterval(() => stream.write(chunk('tick', null)), 20);
        stream.on('close', () => clearInterval(timer));
        return;
      }
      stream.write(chunk('Hello', null));
      stream.write(chunk(' over h2', null));
      stream.write(chunk(null, 'stop', { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }));
      stream.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  h1Server = https.createServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) }, (_req, res) => {
    res.end('{}');
  });
  await new Promise<void>((resolve) => h1Server.listen(0, '127.0.0.1', resolve));
  h1Base = `https://127.0.0.1:${(h1Server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const session of sessions) session.destroy();
  await new Promise((resolve) => server.close(resolve));
  h1Server.closeAllConnections();
  await new Promise((resolve) => h1Server.close(resolve));
});

function request(signal: AbortSignal): ProviderRequest {
  return { upstreamModel: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0.7, maxTokens: 16, signal };
}

async function collect(stream: AsyncIterable<ProviderStreamEvent>): Promise<ProviderStreamEvent[]> {
  const events: ProviderStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('HTTP/2 upstream', () => {
  it('streams chats through the openai SDK, concurrent calls sharing one connection', async () => {
    const before = sessions.size;
    const provider = new OpenAIProvider({ name: 'h2', baseURL: `${base}/v1`, apiKey: 'k', http2: true, ca });
    try {
      // Calls made while the first connection is still being set up open their own; after it, they share.
      await collect(provider.stream(request(new AbortController().signal)));
      const answers = await Promise.all(Array.from({ length: 5 }, () => collect(provider.stream(request(new AbortController().signal)))));
      for (const events of answers) {
        expect(events.filter((e) => e.type === 'delta').map((e) => (e.type === 'delta' ? e.content : ''))).toEqual(['Hello', ' over h2']);
        expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop', usage: { completionTokens: 2 } });
      }
      expect(sessions.size - before).toBe(1);
    } finally {
      await provider.close();
    }
  });

  it('opens another connection past http2MaxStreams calls at once', async () => {
    const before = sessions.size;
    const fetch = createUndiciFetch({ http2: true, http2MaxStreams: 2, ca });
    const calls = Array.from({ length: 3 }, () => new AbortController());
    try {
      await (await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: '{}' })).text();
      const responses = await Promise.all(calls.map((c) => fetch(`${base}/endless`, { method: 'POST', body: '{}', signal: c.signal })));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(sessions.size - before).toBe(2);
    } finally {
      for (const c of calls) c.abort();
      await fetch.close(100);
    }
  });

  it('resets only the cancelled call’s stream; the connection and the other call go on', async () => {
    const before = sessions.size;
    const fetch = createUndiciFetch({ http2: true, ca });
    const cancelled = new AbortController();
    try {
      await (await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: '{}' })).text();
      const [first, second] = await Promise.all([
        fetch(`${base}/endless-cancelled`, { method: 'POST', body: '{}', signal: cancelled.signal }),
        fetch(`${base}/v1/chat/completions`, { method: 'POST', body: '{}' }),
      ]);
      const reader = (first.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      await reader.next();
      cancelled.abort();
      await expect(reader.next()).rejects.toThrow();
      await until(() => resets.includes('/endless-cancelled'));
      expect(await second.text()).toContain('data: [DONE]');
      expect(completed).toContain('/v1/chat/completions');
      // A call after the cancel still uses the same connection.
      const third = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: '{}' });
      expect(await third.text()).toContain('over h2');
      expect(sessions.size - before).toBe(1);
      expect([...sessions].at(-1)?.destroyed).toBe(false);
    } finally {
      await fetch.close(100);
    }
  });

  it('refuses a server that does not agree to HTTP/2', async () => {
    const fetch = createUndiciFetch({ http2: true, ca });
    try {
      const failure = await fetch(`${h1Base}/v1/chat/completions`, { method: 'POST', body: '{}' }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(TypeError);
      expect((failure as TypeError).cause).toMatchObject({ code: 'ERR_UPSTREAM_NOT_HTTP2' });
    } finally {
      await fetch.close(100);
    }
  });

  it('speaks HTTP/1.1 to the same server without http2', async () => {
    const fetch = createUndiciFetch({ ca });
    try {
      const response = await fetch(`${h1Base}/v1/chat/completions`, { method: 'POST', body: '{}' });
      expect(await response.text()).toBe('{}');
    } finally {
      await fetch.close(100);
    }
  });
});

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
