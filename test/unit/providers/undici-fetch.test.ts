import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LeanOpenAI } from '../../../src/providers/openai/lean-openai.js';
import { createUndiciFetch } from '../../../src/providers/http/undici-fetch.js';
import { sendChatCompletion } from '../../helpers/chat-completion.js';

/** The fetch-compatible transport keeps the parts of fetch's contract the providers rely on. */

let server: http.Server;
let base = '';
const closed: string[] = [];
const seenHeaders: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seenHeaders.push(req.headers);
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '';
      res.on('close', () => {
        if (!res.writableFinished) closed.push(url);
      });
      if (url === '/json') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_1', 'retry-after-ms': '5' });
        res.end('{"ok":true,"text":"wörld"}');
      } else if (url === '/gzip') {
        const body = gzipSync('{"zipped":true}');
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
        res.end(body);
      } else if (url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"n":1}\n\n');
        res.write('data: {"n":2}\n\n');
        res.end('data: [DONE]\n\n');
      } else if (url === '/slow-sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"n":1}\n\n');
        // never ends: the client has to abort
      } else if (url === '/hang') {
        // no headers at all
      } else if (url === '/cut') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"partial":');
        setTimeout(() => res.destroy(), 10);
      } else if (url === '/v1/chat/completions') {
        sendChatCompletion(res, { role: 'assistant', content: 'hi' });
      } else {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end('{"error":{"message":"slow down"}}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const waitFor = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('undici-fetch', () => {
  it('returns status, headers and a JSON body', async () => {
    const f = createUndiciFetch();
    const res = await f(`${base}/json`, { method: 'POST', headers: new Headers({ 'x-a': '1' }), body: '{}' });
    expect(res.ok).toBe(true);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Request-Id')).toBe('req_1');
    expect(res.headers.get('missing')).toBeNull();
    expect([...res.headers.entries()].map(([k]) => k)).toContain('content-type');
    expect(await res.json()).toEqual({ ok: true, text: 'wörld' });
    expect(seenHeaders.at(-1)?.['x-a']).toBe('1');
    await f.close();
  });

  it('decodes gzip bodies', async () => {
    const f = createUndiciFetch();
    const res = await f(`${base}/gzip`);
    expect(await res.json()).toEqual({ zipped: true });
    await f.close();
  });

  it('gives the body as an async iterable of bytes (SSE)', async () => {
    const f = createUndiciFetch();
    const res = await f(`${base}/sse`, { method: 'POST', body: '{}' });
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Buffer>) text += chunk.toString();
    expect(text).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
    await f.close();
  });

  it('rejects with the signal reason when aborted before the headers, and closes the socket', async () => {
    const f = createUndiciFetch();
    const controller = new AbortController();
    const pending = f(`${base}/hang`, { method: 'POST', body: '{}', signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => closed.includes('/hang'));
    expect(closed).toContain('/hang');
    await f.close();
  });

  it('closes the upstream socket when aborted mid-body', async () => {
    const f = createUndiciFetch();
    const controller = new AbortController();
    const res = await f(`${base}/slow-sse`, { method: 'POST', body: '{}', signal: controller.signal });
    const iterator = (res.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => closed.includes('/slow-sse'));
    expect(closed).toContain('/slow-sse');
    await f.close();
  });

  it("fails like fetch: 'fetch failed' when unreachable, 'terminated' when the body is cut", async () => {
    const f = createUndiciFetch();
    await expect(f('http://127.0.0.1:1/x')).rejects.toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    const res = await f(`${base}/cut`);
    await expect(res.json()).rejects.toMatchObject({ name: 'TypeError', message: 'terminated' });
    await f.close();
  });

  it('leaves no grace timer behind when the pool refuses to close (already destroyed)', async () => {
    const f = createUndiciFetch();
    await f.dispatcher.destroy();
    const grace = 61_234;
    const set = vi.spyOn(globalThis, 'setTimeout');
    const clear = vi.spyOn(globalThis, 'clearTimeout');
    try {
      await expect(f.close(grace)).rejects.toMatchObject({ name: 'ClientDestroyedError' });
      const graceTimers = set.mock.results.filter((_, i) => set.mock.calls[i]?.[1] === grace).map((r) => r.value as unknown);
      expect(graceTimers).toHaveLength(1);
      expect(clear.mock.calls.map(([timer]) => timer)).toContain(graceTimers[0]);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
  });

  it('works as the openai SDK transport: answers, status errors with headers, same request', async () => {
    const f = createUndiciFetch();
    const client = new LeanOpenAI({ apiKey: 'k', baseURL: `${base}/v1`, maxRetries: 0, fetch: f });
    const answer = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(answer.choices[0]?.message.content).toBe('hi');
    const other = new LeanOpenAI({ apiKey: 'k', baseURL: `${base}/other`, maxRetries: 0, fetch: f });
    const err = await other.chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('2');
    expect(seenHeaders.at(-1)?.['authorization']).toBe('Bearer k');
    expect(seenHeaders.at(-1)?.['user-agent']).toMatch(/^OpenAI\/JS /);
    await f.close();
  });
});
