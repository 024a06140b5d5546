import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../../src/domain/errors.js';
import { UpstreamTooLargeError } from '../../../../src/providers/http/too-large.js';
import { createUndiciFetch } from '../../../../src/providers/http/undici-fetch.js';
import { DirectPost } from '../../../../src/providers/openai/direct-post.js';
import { LeanOpenAI } from '../../../../src/providers/openai/lean-openai.js';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';

/** Chat requests sent without the SDK's request path must be the requests the SDK sends. */

interface Seen {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

const seen: Seen[] = [];
let server: http.Server;
let base = '';

const COMPLETION = {
  id: 'c1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url?.startsWith('/slow')) return; // never answers: the caller aborts
      if (req.url?.startsWith('/limited')) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
        res.end('{"error":{"message":"slow down","type":"rate_limit"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(COMPLETION));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const PARAMS = {
  model: 'm',
  messages: [{ role: 'user' as const, content: 'x' }],
  temperature: 0.5,
  max_tokens: 9,
};

const direct = (f: ReturnType<typeof createUndiciFetch>, path: string, maxBodyBytes = 1 << 20) =>
  new DirectPost(
    new LeanOpenAI({ apiKey: 'k', baseURL: `${base}${path}`, fetch: f }),
    f,
    'test',
    '/chat/completions',
    undefined,
    maxBodyBytes,
  );

describe('DirectPost', () => {
  it('sends what the SDK sends, unary and streamed: method, URL, every header, the body', async () => {
    const f = createUndiciFetch();
    const options = { apiKey: 'k', baseURL: `${base}/v1`, maxRetries: 0, timeout: 60_000, organization: 'org-1', fetch: f };
    await new OpenAI(options).chat.completions.create(PARAMS);
    const post = new DirectPost(new LeanOpenAI(options), f, 'test', '/chat/completions', undefined, 1 << 20);
    const endpoint = await post.shape();
    expect(endpoint).toBeDefined();
    expect((await post.json(endpoint!, PARAMS, new AbortController().signal)).value).toEqual(COMPLETION);
    const response = await post.send(endpoint!, PARAMS, new AbortController().signal);
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk);
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toEqual(COMPLETION);
    const [sdk, unary, streamed] = seen.slice(-3);
    expect(sdk?.url).toBe('/v1/chat/completions');
    for (const ours of [unary, streamed]) {
      expect(ours?.method).toBe(sdk?.method);
      expect(ours?.url).toBe(sdk?.url);
      expect(ours?.headers).toEqual(sdk?.headers);
      expect(ours?.body).toBe(sdk?.body);
    }
    await f.close();
  });

  it("adds a request's own headers, lower-cased, over the SDK's", async () => {
    const f = createUndiciFetch();
    const post = direct(f, '/v1');
    await post.json((await post.shape())!, PARAMS, new AbortController().signal, { Traceparent: '00-abc-def-01' });
    expect(seen.at(-1)?.headers.traceparent).toBe('00-abc-def-01');
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer k');
    await f.close();
  });

  it('turns an error status into the upstream error, with Retry-After, unary and streamed', async () => {
    const f = createUndiciFetch();
    const post = direct(f, '/limited');
    const endpoint = (await post.shape())!;
    for (const err of [
      await post.json(endpoint, PARAMS, new AbortController().signal).catch((e: unknown) => e),
      await post.send(endpoint, PARAMS, new AbortController().signal).catch((e: unknown) => e),
    ]) {
      expect(err).toBeInstanceOf(OrchestratorError);
      expect((err as OrchestratorError).reason).toBe('UPSTREAM_RATE_LIMITED');
      expect((err as OrchestratorError).retryAfterMs).toBe(3_000);
    }
    await f.close();
  });

  it('refuses a unary answer over the body limit', async () => {
    const f = createUndiciFetch();
    const post = direct(f, '/v1', 100);
    const err = await post.json((await post.shape())!, PARAMS, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamTooLargeError);
    await f.close();
  });

  it('rejects with the abort reason when the call is cancelled', async () => {
    const f = createUndiciFetch();
    const post = direct(f, '/slow');
    const controller = new AbortController();
    const pending = post.json((await post.shape())!, PARAMS, controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('call cancelled')), 20);
    expect(((await pending) as Error).message).toBe('call cancelled');
    await f.close();
  });

  it('leaves a client the direct path cannot serve to the SDK', async () => {
    const f = createUndiciFetch();
    const client = new LeanOpenAI({ apiKey: 'k', baseURL: `${base}/v1?api-version=1`, fetch: f });
    expect(await new DirectPost(client, f, 'test', '/chat/completions', undefined, 1 << 20).shape()).toBeUndefined();
    const provider = new OpenAIProvider({ name: 'q', baseURL: `${base}/v1?api-version=1`, apiKey: 'k' });
    const answer = await provider.complete({
      upstreamModel: 'm',
      messages: [{ role: 'user', content: 'x' }],
      temperature: 0,
      maxTokens: 5,
      signal: new AbortController().signal,
    });
    expect(answer.content).toBe('hi');
    const ours = seen.at(-1);
    await new OpenAI({ apiKey: 'k', baseURL: `${base}/v1?api-version=1`, fetch: f }).chat.completions.create(PARAMS);
    expect(ours?.url).toBe(seen.at(-1)?.url);
    await provider.close();
    await f.close();
  });
});
