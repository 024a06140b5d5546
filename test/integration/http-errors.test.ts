import { once } from 'node:events';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { accessFile, sha } from '../helpers/access-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';

type ApiError = InstanceType<typeof OpenAI.APIError>;
const hello = [{ role: 'user' as const, content: 'Say hello' }];

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.APIError);
  return err as ApiError;
}

describe('OpenAI error classes from the gateway', () => {
  let h: Harness;
  let base: string;
  const as = (apiKey: string) => new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
  beforeAll(async () => {
    const frank = `    - { name: frank, sha256: ${sha('frank-secret')}, allowed_models: ["gpt-4o-mini"], limits: { requests_per_minute: 2 } }\n`;
    const tina = `    - { name: tina, sha256: ${sha('tina-secret')}, limits: { tokens_per_minute: 50 } }\n`;
    const mona = `    - { name: mona, sha256: ${sha('mona-secret')}, budgets: { usd_per_month: 0.00001 } }\n`;
    h = await startHarness({ env: { CONFIG_FILE: accessFile(frank + tina + mona) } });
    base = h.app.http!.url;
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());

  it('AuthenticationError (401) without a key or with an unknown one; Bearer and x-api-key both work', async () => {
    // The SDK will not send a request without a key; a bare client can.
    const missing = await fetch(`${base}/v1/models`);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    const unknown = await failure(as('nope').chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(unknown).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(unknown.code).toBe('invalid_api_key');
    expect((await as('erin-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: hello })).model).toBe('gpt-4o-mini');
    const viaHeader = await fetch(`${base}/v1/models`, { headers: { 'x-api-key': 'erin-secret' } });
    expect(viaHeader.status).toBe(200);
    // Health stays open, as in gRPC.
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('PermissionDeniedError (403) for a model the key may not call', async () => {
    const err = await failure(as('alice-secret').chat.completions.create({ model: 'gpt-4o', messages: hello }));
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err.error as { reason: string }).reason).toBe('MODEL_NOT_ALLOWED');
  });

  it('NotFoundError (404) for a model outside the catalog, naming it', async () => {
    const err = await failure(as('erin-secret').chat.completions.create({ model: 'no-such-model', messages: hello }));
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe('model_not_found');
    expect(err.param).toBe('model');
    // A chain that repeats the model first names the unknown one by its place in the list sent.
    const chained = await failure(
      as('erin-secret').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: hello,
        orchestrator: { strategy: 'fallback', models: ['gpt-4o-mini', 'no-such-model'] },
      } as never),
    );
    expect(chained).toBeInstanceOf(OpenAI.NotFoundError);
    expect(chained.param).toBe('orchestrator.models[1]');
    const one = await failure(as('erin-secret').models.retrieve('no-such-model'));
    expect(one).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('RateLimitError (429) with Retry-After once the key used its requests per minute', async () => {
    const frank = as('frank-secret');
    await frank.chat.completions.create({ model: 'gpt-4o-mini', messages: hello });
    await frank.chat.completions.create({ model: 'gpt-4o-mini', messages: hello });
    const err = await failure(frank.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it('RateLimitError (429) without Retry-After for a call whose estimate alone exceeds the tokens per minute', async () => {
    const err = await failure(as('tina-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: hello, max_tokens: 100 }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.message).toContain('exceeds 50 tokens per minute for key:tina: lower max_tokens or the prompt');
    // Waiting would not help: no minute admits it.
    expect(err.headers?.get('retry-after')).toBeNull();
    expect(err.headers?.get('retry-after-ms')).toBeNull();
  });

  it('a 429 no wait cures tells the SDKs not to retry it: one request where they would send three', async () => {
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    // The SDK's default: two retries of a 429, after a backoff, unless the answer says not to.
    const tina = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'tina-secret', fetch: counting });
    const err = await failure(tina.chat.completions.create({ model: 'gpt-4o-mini', messages: hello, max_tokens: 100 }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(sent).toBe(1);
    // A limit that a wait cures leaves the SDK's retries alone.
    const frank = as('frank-secret');
    let limited: unknown;
    for (let i = 0; i < 3 && limited === undefined; i++) {
      limited = await frank.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as ApiError).headers?.get('x-should-retry')).toBeNull();
  });

  // The Node SDK sleeps whatever wait it is told inside the call (a spent budget's days); the
  // Python SDK sleeps at most a minute and past that retries after a second or so, into the same refusal.
  it('a 429 whose wait is over a minute tells the SDKs not to retry it, and still says when to come back', async () => {
    await as('mona-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: hello });
    const raw = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer mona-secret' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: hello }),
    });
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get('retry-after-ms'))).toBeGreaterThan(60_000);
    expect(raw.headers.get('x-should-retry')).toBe('false');
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    const mona = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'mona-secret', fetch: counting });
    const err = await failure(mona.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('insufficient_quota');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(60);
    expect(sent).toBe(1);
  });

  it('RateLimitError (429) with code insufficient_quota when the budget is spent', async () => {
    const carol = as('carol-secret');
    await carol.chat.completions.create({ model: 'gpt-4o-mini', messages: hello });
    const err = await failure(carol.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('insufficient_quota');
    expect(err.headers?.get('retry-after')).toBeTruthy();
  });

  it('BadRequestError (400) listing every violation', async () => {
    const err = await failure(as('erin-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: [], temperature: 3 }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const fields = (err.error as { field_violations: { field: string }[] }).field_violations.map((v) => v.field);
    expect(fields).toEqual(['messages', 'temperature']);
  });

  // Every problem was listed, spelled and written: 130,000 empty messages answered 11 MB,
  // where the gRPC door lists the first 20.
  it('BadRequestError (400) listing the first 100 violations of many, the message counting them all', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer erin-secret' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: Array.from({ length: 10_000 }, () => ({ role: 'user', content: [] })) }),
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text.length).toBeLessThan(64 * 1024);
    const error = (JSON.parse(text) as { error: { message: string; field_violations: { field: string }[] } }).error;
    expect(error.message).toBe('invalid request: messages[0].content: must not be empty or only whitespace (and 9999 more)');
    expect(error.field_violations).toHaveLength(100);
    expect(error.field_violations[99]?.field).toBe('messages[99].content');
  });

  it('BadRequestError (431) in the OpenAI shape for headers over the 16 KiB Node reads, as for a request line it cannot parse (400)', async () => {
    const client = new OpenAI({
      baseURL: `${base}/v1`,
      apiKey: 'erin-secret',
      maxRetries: 0,
      defaultHeaders: { 'x-note': 'n'.repeat(20_000) },
    });
    const err = await failure(client.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(err.status).toBe(431);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'request_header_fields_too_large', reason: 'INVALID_REQUEST' });
    expect(err.message).toMatch(/headers are over 16384 bytes/);
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString()));
    socket.write('NOT A REQUEST\r\n\r\n');
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', reason: 'INVALID_REQUEST', param: null });
  });

  it('502 when the upstream fails, listing the attempts', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const err = await failure(as('erin-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({
      type: 'upstream_error',
      reason: 'UPSTREAM_ERROR',
      attempts: [expect.objectContaining({ model: 'gpt-4o-mini', outcome: 'failure' })],
    });
  });

  // The openai SDKs retry every 5xx twice unless told not to: against a provider key that is
  // refused, each retry is another call refused the same way.
  it('a 502 no retry mends (the provider refused our key) tells the SDKs not to retry it; one a retry may mend does not', async () => {
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    const sdk = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'erin-secret', fetch: counting });
    h.upstream.injectFault({ kind: 'http_error', status: 401 });
    const upstreamBefore = h.upstream.requests.length;
    const err = await failure(sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(err.status).toBe(502);
    expect((err.error as { reason: string }).reason).toBe('UPSTREAM_AUTH_FAILED');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(sent).toBe(1);
    expect(h.upstream.requests.length - upstreamBefore).toBe(1);

    h.upstream.clearFaults();
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    const failed = await failure(as('erin-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
    expect(failed.status).toBe(502);
    expect(failed.headers?.get('x-should-retry')).toBeNull();
  });

  it('504 when the x-request-timeout-ms deadline passes, and the upstream request is closed', async () => {
    h.upstream.injectFault({ kind: 'hang', times: 1 });
    const before = h.upstream.requests.length;
    const err = await failure(
      as('erin-secret').chat.completions.create({ model: 'gpt-4o-mini', messages: hello }, { headers: { 'x-request-timeout-ms': '300' } }),
    );
    expect(err.status).toBe(504);
    expect(err.error).toMatchObject({ type: 'timeout_error', reason: 'DEADLINE_EXCEEDED' });
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests[before]?.outcome).toBe('client_closed');
  });

  /** Sends a completion's body in pieces `pauseMs` apart over a raw socket; resolves with the response's status line and when it came. */
  async function trickled(headers: string, pieces: number, pauseMs: number): Promise<{ statusLine: string; at: number }> {
    const url = new URL(base);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: hello });
    const size = Math.ceil(body.length / pieces);
    const response = new Promise<{ statusLine: string; at: number }>((resolve) => {
      socket.once('data', (chunk: Buffer) => resolve({ statusLine: chunk.toString().split('\r\n')[0] ?? '', at: performance.now() }));
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer erin-secret\r\nContent-Type: application/json\r\n${headers}Content-Length: ${body.length}\r\n\r\n`,
    );
    for (let i = 0; i < pieces; i += 1) {
      if (i > 0) await new Promise((r) => setTimeout(r, pauseMs));
      if (!socket.destroyed) socket.write(body.slice(i * size, (i + 1) * size));
    }
    try {
      return await response;
    } finally {
      socket.destroy();
    }
  }

  it("counts x-request-timeout-ms from the request's arrival: a body that took longer is a 504 with no upstream call", async () => {
    const before = h.upstream.requests.length;
    const { statusLine } = await trickled('x-request-timeout-ms: 300\r\n', 4, 150);
    expect(statusLine).toBe('HTTP/1.1 504 Gateway Timeout');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('leaves the upstream only what is left of x-request-timeout-ms once the body has arrived', async () => {
    h.upstream.injectFault({ kind: 'hang', times: 1 });
    const sent = performance.now();
    const { statusLine, at } = await trickled('x-request-timeout-ms: 900\r\n', 3, 250);
    expect(statusLine).toBe('HTTP/1.1 504 Gateway Timeout');
    // The body took 500 ms: counted from the handler, the deadline would come at 1,400 ms.
    expect(at - sent).toBeLessThan(1_250);
    await h.upstream.waitForIdle(2_000);
  });
});

describe('draining', () => {
  it('says 503 on /health at once, then refuses new calls with 503 and Retry-After while a stream in flight finishes', async () => {
    const h = await startHarness({ env: { DRAIN_DELAY_MS: '300', SHUTDOWN_GRACE_MS: '5000' } });
    const base = h.app.http!.url;
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    try {
      h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 15, times: 1 });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: hello, stream: true });
      const collected = (async () => {
        const parts: string[] = [];
        for await (const chunk of stream) parts.push(chunk.choices[0]?.delta.content ?? '');
        return parts.join('');
      })();
      const stopping = h.app.stop(5_000);
      await new Promise((r) => setTimeout(r, 50));
      expect((await fetch(`${base}/health`)).status).toBe(503);
      await new Promise((r) => setTimeout(r, 400));
      const refused = await failure(client.chat.completions.create({ model: 'gpt-4o-mini', messages: hello }));
      expect(refused.status).toBe(503);
      expect(refused.error).toMatchObject({ reason: 'DRAINING' });
      expect(refused.headers?.get('retry-after')).toBe('1');
      expect((await collected).length).toBeGreaterThan(0);
      await stopping;
    } finally {
      await h.upstream.close();
    }
  });

  it('ends a stream still running when the grace period is over, with an error the SDK raises', async () => {
    const h = await startHarness({ env: { DRAIN_DELAY_MS: '0' } });
    const client = new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    try {
      h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 5, times: 1 });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: hello, stream: true });
      const read = (async () => {
        for await (const chunk of stream) chunk.choices[0]?.delta.content;
      })();
      const stopping = h.app.stop(300);
      await expect(read).rejects.toThrow(/shutting down/);
      await stopping;
    } finally {
      await h.upstream.close();
    }
  });
});
