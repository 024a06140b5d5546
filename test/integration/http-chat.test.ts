import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

const run = promisify(execFile);

let h: Harness;
let client: OpenAI;
let base: string;
beforeAll(async () => {
  h = await startHarness();
  base = h.app.http!.url;
  // No SDK retries: each test sees the gateway's own answer.
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

const hello = [{ role: 'user' as const, content: 'Say hello' }];

describe('POST /v1/chat/completions with the openai SDK', () => {
  it('answers a unary completion with the model that answered, usage and our extras', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'developer', content: 'Be brief.' }, ...hello], max_completion_tokens: 50 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4o-mini');
    expect(data.id).toBe(response.headers.get('x-request-id'));
    expect(data.choices[0]?.message.role).toBe('assistant');
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
    const ext = (data as unknown as { x_orchestrator: Record<string, unknown> }).x_orchestrator;
    expect(ext).toMatchObject({ provider: 'openai', simulated: false, fallback_triggered: false, route_decision: null });
    expect(ext.cost_usd).toBeGreaterThan(0);
    expect(ext.attempts).toEqual([expect.objectContaining({ model: 'gpt-4o-mini', outcome: 'success' })]);
    // The upstream got the system instruction the developer role carries.
    const sent = h.upstream.requests.at(-1)?.body as { messages: { role: string }[]; max_tokens?: number; max_completion_tokens?: number };
    expect(sent.messages[0]?.role).toBe('system');
  });

  it('keeps the caller x-request-id and accepts text-part content', async () => {
    const { data, response } = await client.chat.completions
      .create(
        {
          model: 'gpt-4o-mini',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'Say ' },
                { type: 'text', text: 'hello' },
              ],
            },
          ],
        },
        { headers: { 'x-request-id': 'req-abc-123' } },
      )
      .withResponse();
    expect(response.headers.get('x-request-id')).toBe('req-abc-123');
    expect(data.id).toBe('req-abc-123');
    const sent = h.upstream.requests.at(-1)?.body as { messages: { content: string }[] };
    expect(sent.messages[0]?.content).toBe('Say hello');
  });

  it('keeps the caller x-request-id on a stream: its header and every chunk id', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: hello, stream: true }, { headers: { 'x-request-id': 'stream-abc-1' } })
      .withResponse();
    expect(response.headers.get('x-request-id')).toBe('stream-abc-1');
    const ids = new Set<string>();
    for await (const chunk of data) ids.add(chunk.id);
    expect([...ids]).toEqual(['stream-abc-1']);
  });

  it('answers a stream that fails before its first token with a plain HTTP error and its status, not an event', async () => {
    const post = (model: string) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: hello, stream: true }),
      });
    const unknown = await post('no-such-model');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    h.upstream.injectFault({ kind: 'http_error', status: 500, times: 1 });
    const failed = await post('gpt-4o-mini');
    expect(failed.status).toBe(502);
    expect(((await failed.json()) as { error: { reason: string } }).error.reason).toBe('UPSTREAM_ERROR');
  });

  it('streams chunks to the end, with a usage chunk when asked, and the same text as unary', async () => {
    const unary = await client.chat.completions.create({ model: 'gpt-4o', messages: hello, temperature: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: hello,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(unary.choices[0]?.message.content);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish?.choices[0]?.finish_reason).toBe('stop');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ completion_tokens: unary.usage?.completion_tokens, prompt_tokens: unary.usage?.prompt_tokens });
  });

  it('streams when asked for no obfuscation, which it never adds, and refuses to add it by name', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true, include_obfuscation: false },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => 'obfuscation' in (c.choices[0]?.delta ?? {}))).toBe(false);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: hello, stream: true, stream_options: { include_obfuscation: true } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('stream_options.include_obfuscation');
  });

  it('refuses stream_options on a unary call by name, as OpenAI does, and sends nothing upstream', async () => {
    const before = h.upstream.requests.length;
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: hello, stream_options: { include_usage: true } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('stream_options');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('sends no usage chunk unless asked', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: hello, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('closes the upstream request when the client aborts halfway', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20, times: 1 });
    const before = h.upstream.requests.length;
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: hello, stream: true });
    let deltas = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) deltas += 1;
      if (deltas === 2) break;
    }
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests[before]?.outcome).toBe('client_closed');
  });

  it('closes the upstream request when the client gives up on a unary call', async () => {
    h.upstream.injectFault({ kind: 'hang', times: 1 });
    const before = h.upstream.requests.length;
    const controller = new AbortController();
    const call = client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: hello }, { signal: controller.signal })
      .catch((e: unknown) => e);
    for (let i = 0; i < 100 && h.upstream.requests.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests[before]?.outcome).toBe('client_closed');
  });

  it('ends a stream that fails after its first chunk with an error the SDK raises', async () => {
    h.upstream.injectFault({ kind: 'cut', afterTokens: 3, times: 1 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: hello, stream: true });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(seen.join('').length).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'upstream_error' });
  });

  it('answers a repeated deterministic request from the response cache, and says so', async () => {
    const ask = () =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cache me over HTTP' }], temperature: 0 });
    const first = (await ask()) as unknown as { x_orchestrator: { cache: { hit: boolean } }; choices: { message: { content: string } }[] };
    const before = h.upstream.requests.length;
    const second = (await ask()) as unknown as typeof first;
    expect(first.x_orchestrator.cache.hit).toBe(false);
    expect(second.x_orchestrator.cache.hit).toBe(true);
    expect(second.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('restarts a streamed fallback on the next model after a mid-stream cut, and says so in a chunk', async () => {
    h.upstream.injectFault({ kind: 'cut', afterTokens: 3, model: 'gpt-4o', times: 1 });
    const stream = (await client.chat.completions.create({
      model: 'gpt-4o',
      messages: hello,
      stream: true,
      orchestrator: { strategy: 'fallback', models: ['gpt-4o-mini'], restart_on_failure: true },
    } as never)) as unknown as AsyncIterable<
      OpenAI.ChatCompletionChunk & { x_orchestrator?: { restarted?: { failed_model: string; next_model: string } } }
    >;
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const restartAt = chunks.findIndex((c) => c.x_orchestrator?.restarted);
    expect(chunks[restartAt]?.x_orchestrator?.restarted).toMatchObject({ failed_model: 'gpt-4o', next_model: 'gpt-4o-mini' });
    const after = chunks.slice(restartAt + 1);
    expect(after.every((c) => c.model === 'gpt-4o-mini')).toBe(true);
    const unary = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: hello });
    expect(after.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(unary.choices[0]?.message.content);
    expect(after.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('lists the catalog as OpenAI models, and one model by id', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('gpt-4o');
    expect(ids).toContain('gpt-4o-mini');
    const one = await client.models.retrieve('gpt-4o-mini');
    expect(one).toMatchObject({ id: 'gpt-4o-mini', object: 'model', owned_by: 'openai' });
    expect((one as unknown as { x_orchestrator: { context_window: number } }).x_orchestrator.context_window).toBeGreaterThan(0);
  });
});

describe('other clients and bad input', () => {
  it('streams to curl, ending with data: [DONE]', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: hello, stream: true });
    const { stdout } = await run('curl', ['-sN', '-H', 'content-type: application/json', '-d', body, `${base}/v1/chat/completions`]);
    const events = stdout.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('').length).toBeGreaterThan(0);
  });

  it('reads a stream from Python urllib', async () => {
    const script = `
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/v1/chat/completions", data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}], "stream": True}).encode(), headers={"content-type": "application/json"})
text, done = "", False
with urllib.request.urlopen(req) as resp:
    for line in resp:
        line = line.decode().strip()
        if line == "data: [DONE]": done = True
        elif line.startswith("data: "):
            for choice in json.loads(line[6:])["choices"]: text += choice["delta"].get("content") or ""
print(json.dumps({"text": text, "done": done}))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, base]);
    const result = JSON.parse(stdout) as { text: string; done: boolean };
    expect(result.done).toBe(true);
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('refuses unsupported fields by name with 400', async () => {
    const cases: [Record<string, unknown>, string][] = [
      // Tools, response formats, images and tool messages are carried now; what they cannot be is refused by name.
      [{ tools: [{ type: 'custom', custom: { name: 'f' } }] }, 'tools[0]'],
      [{ response_format: { type: 'yaml' } }, 'response_format.type'],
      [{ logprobs: true }, 'logprobs'],
      // Names every JavaScript object inherits are unknown fields like any other.
      [{ constructor: 1 }, 'constructor'],
      [{ toString: 'x' }, 'toString'],
      [{ n: 2 }, 'n'],
      [
        { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] }] },
        'messages[0].content[0].type',
      ],
      [{ messages: [{ role: 'tool', content: 'x', tool_call_id: 'nope' }] }, 'messages[0].tool_call_id'],
      // stop is carried now; more than four sequences is still refused by name.
      [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
      // One stop string is named as sent, not as the first of a list the request did not send.
      [{ stop: 'x'.repeat(300) }, 'stop'],
      [{ stop: ['a', 'x'.repeat(300)] }, 'stop[1]'],
      [{ top_p: 1.5 }, 'top_p'],
      [{ orchestrator: { strategy: 'hedge' } }, 'orchestrator.strategy'],
      [{ orchestrator: { models: ['gpt-4o'] } }, 'orchestrator.models'],
      // Budgets a request of this kind has no use for are refused, never ignored.
      [{ orchestrator: { attempt_timeout_ms: 200 } }, 'orchestrator.attempt_timeout_ms'],
      [{ orchestrator: { strategy: 'race', models: ['gpt-4o'], attempt_timeout_ms: 200 } }, 'orchestrator.attempt_timeout_ms'],
      [{ model: 'route:speed', orchestrator: { attempt_timeout_ms: 200 } }, 'orchestrator.attempt_timeout_ms'],
      [
        { stream: true, orchestrator: { strategy: 'fallback', models: ['gpt-4o'], attempt_timeout_ms: 200 } },
        'orchestrator.attempt_timeout_ms',
      ],
      [{ orchestrator: { first_token_timeout_ms: 200 } }, 'orchestrator.first_token_timeout_ms'],
      // At most 8 models per call, as on gRPC: `model` and eight others would be nine.
      [
        {
          orchestrator: {
            strategy: 'race',
            models: ['gpt-4o', 'gpt-4-turbo', 'gpt-3.5-turbo', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3', 'o4-mini'],
          },
        },
        'orchestrator.models',
      ],
      [{ orchestrator: { strategy: 'fallback', inter_token_timeout_ms: 200 } }, 'orchestrator.inter_token_timeout_ms'],
    ];
    for (const [extra, param] of cases) {
      const err = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: hello, ...extra } as never)
        .catch((e: unknown) => e);
      expect(err, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param, JSON.stringify(extra)).toBe(param);
    }
  });

  it("names a cap over the model's output limit by the field the request sent it in, unary or streamed", async () => {
    for (const [cap, stream] of [
      ['max_completion_tokens', false],
      ['max_completion_tokens', true],
      ['max_tokens', false],
    ] as const) {
      const err = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: hello, [cap]: 1_000_000, stream } as never)
        .catch((e: unknown) => e);
      expect(err, `${cap} ${stream}`).toBeInstanceOf(OpenAI.BadRequestError);
      const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(bad.param, `${cap} ${stream}`).toBe(cap);
      expect(bad.message).toBe(`400 invalid request: ${cap}: must be at most 16384 for gpt-4o-mini (got 1000000)`);
      expect((bad.error as { field_violations: { field: string }[] }).field_violations.map((v) => v.field)).toEqual([cap]);
    }
  });

  it('refuses a field holding a value nested 10,000 levels deep with 400 naming it, not a 500', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const hi = '[{"role":"user","content":"hi"}]';
    const cases: [string, string][] = [
      [`"messages":${hi},"n":${deep}`, 'n'],
      [`"messages":${hi},"logprobs":${deep}`, 'logprobs'],
      [`"messages":${hi},"max_tokens":${deep}`, 'max_tokens'],
      [`"messages":${hi},"temperature":${deep}`, 'temperature'],
      [`"messages":${hi},"seed":${deep}`, 'seed'],
      [`"messages":${hi},"stream":${deep}`, 'stream'],
      [`"messages":${hi},"orchestrator":{"strategy":${deep}}`, 'orchestrator.strategy'],
      [`"messages":[{"role":${deep},"content":"hi"}]`, 'messages[0].role'],
      [`"messages":[{"role":"user","content":[${deep}]}]`, 'messages[0].content[0]'],
    ];
    for (const [fields, param] of cases) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"model":"gpt-4o-mini",${fields}}`,
      });
      expect(res.status, param).toBe(400);
      const { error } = (await res.json()) as { error: { param: string; message: string } };
      expect(error.param).toBe(param);
      // The value is described, not echoed back whole.
      expect(error.message.length, param).toBeLessThan(300);
    }
  });

  it('answers bad JSON, wrong content type, oversized bodies, unknown routes and methods with JSON errors', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': type }, body });
    const bad = await post('{"model": ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    const text = await post('hello', 'text/plain');
    expect(text.status).toBe(415);
    expect(((await text.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const big = await post(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] }));
    expect(big.status).toBe(413);
    const unknown = await fetch(`${base}/v1/audio/speech`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
    const method = await fetch(`${base}/v1/chat/completions`);
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST');
    // Still serving.
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('refuses a compressed body with 415 naming its content-encoding, not as invalid JSON', async () => {
    const json = JSON.stringify({ model: 'gpt-4o-mini', messages: hello, max_tokens: 2 });
    const gzipped = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(json),
    });
    expect(gzipped.status).toBe(415);
    const { error } = (await gzipped.json()) as { error: { code: string; message: string; param: string } };
    expect(error.code).toBe('unsupported_content_encoding');
    expect(error.message).toContain('gzip');
    expect(gzipped.headers.get('accept-encoding')).toBe('identity');
    // identity is no encoding at all.
    const plain = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      body: json,
    });
    expect(plain.status).toBe(200);
  });

  it('refuses a body labelled with a content-encoding even when it reads as plain JSON, never taking it as sent', async () => {
    const json = JSON.stringify({ model: 'gpt-4o-mini', messages: hello, max_tokens: 2 });
    for (const encoding of ['gzip', 'deflate', 'br', 'x-custom']) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: json,
      });
      expect(res.status, encoding).toBe(415);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('unsupported_content_encoding');
      expect(error.message).toContain(encoding);
      expect(res.headers.get('accept-encoding')).toBe('identity');
    }
    const embedded = await fetch(`${base}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }),
    });
    expect(embedded.status).toBe(415);
  });

  it('names a long content-encoding in its 415 cut to a length, not whole', async () => {
    const encoding = `x-${'a'.repeat(8_000)}`;
    const refused = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      body: gzipSync('{}'),
    });
    expect(refused.status).toBe(415);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('unsupported_content_encoding');
    expect(error.message).toContain('x-aaaa');
    expect(error.message.length).toBeLessThan(200);
  });

  it("names the call's request id in the error of a call a route refused, the caller's or a fresh one", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'no-such-model', messages: hello }),
      });
    const given = await post({ 'x-request-id': 'refused-2' });
    expect(given.status).toBe(404);
    expect(((await given.json()) as { error: { request_id: string } }).error.request_id).toBe('refused-2');
    const made = await post({});
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await made.json()) as { error: { request_id: string } }).error.request_id).toBe(made.headers.get('x-request-id'));
  });

  it('refuses an x-request-timeout-ms that is not a whole number of milliseconds from 1, naming the header', async () => {
    for (const timeout of ['0', 'soon', '1.5']) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-timeout-ms': timeout },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: hello }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe('x-request-timeout-ms');
    }
  });

  it('refuses a fallback chain given both in x-orchestrator-fallbacks and in the body, naming the header', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orchestrator-fallbacks': 'gpt-4.1-nano' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: hello, orchestrator: { strategy: 'fallback', models: ['gpt-4.1-mini'] } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('x-orchestrator-fallbacks');
  });

  it("answers a request refused before any route runs with its request id, the caller's or a fresh one", async () => {
    const badJson = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'refused-1' },
      body: '{"model": ',
    });
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('x-request-id')).toBe('refused-1');
    expect(((await badJson.json()) as { error: { request_id: string } }).error.request_id).toBe('refused-1');
    const unknown = await fetch(`${base}/v1/audio/speech`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    const made = unknown.headers.get('x-request-id');
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await unknown.json()) as { error: { request_id: string } }).error.request_id).toBe(made);
  });
});
