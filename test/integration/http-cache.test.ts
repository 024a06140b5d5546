import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let base: string;
beforeAll(async () => {
  // Answers expire after a second, and every model failing serves an expired one, marked stale.
  h = await startHarness({ env: { CACHE_OFFLINE_FALLBACK: 'on', CACHE_TTL_SECONDS: '1' } });
  base = h.app.http!.url;
});
afterAll(async () => h?.close());
beforeEach(() => h.upstream.clearFaults());

const post = (body: unknown) =>
  fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
type Chunk = { choices: { finish_reason: string | null }[]; x_orchestrator?: { cache?: unknown } };
const chunksOf = (sse: string): Chunk[] =>
  sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as Chunk);

/** A deterministic request answered once, then left to expire, then every upstream failing. */
async function expiredAndDown(content: string) {
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content }], temperature: 0, max_tokens: 5 };
  expect((await post(body)).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1_300));
  h.upstream.injectFault({ kind: 'http_error', status: 503 });
  return body;
}

describe('the response cache over HTTP', () => {
  it('marks a streamed replay of an expired answer as stale, from its first chunk to its last, as the unary answer is', async () => {
    const body = await expiredAndDown('cache me');
    const unary = (await (await post(body)).json()) as { x_orchestrator: { cache: unknown } };
    expect(unary.x_orchestrator.cache).toMatchObject({ hit: true, stale: true });
    const res = await post({ ...body, stream: true });
    expect(res.status).toBe(200);
    const chunks = chunksOf(await res.text());
    expect(chunks[0]?.x_orchestrator?.cache).toMatchObject({ hit: true, stale: true });
    const last = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(last?.x_orchestrator?.cache).toMatchObject({ hit: true, stale: true });
  });

  it('refuses a stale answer when the request says refuse_stale, streamed or through a fallback chain', async () => {
    const body = await expiredAndDown('never stale');
    const refuse = { cache: { refuse_stale: true } };
    const streamed = await post({ ...body, stream: true, orchestrator: refuse });
    expect(streamed.status).toBe(502);
    const chain = await post({
      ...body,
      orchestrator: { ...refuse, strategy: 'fallback', models: ['gpt-3.5-turbo'], disable_default_message: true },
    });
    expect(chain.status).toBe(502);
    // Without it, the same chain is answered from the cache, stale.
    const served = await post({
      ...body,
      orchestrator: { strategy: 'fallback', models: ['gpt-3.5-turbo'], disable_default_message: true },
    });
    expect(served.status).toBe(200);
  });

  it('refuses cache options by name where they do not apply, and unknown ones, instead of ignoring them', async () => {
    const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
    const cases: [unknown, string][] = [
      [{ ...hello, orchestrator: { cache: { mode: 'use', refuse_stal: true } } }, 'orchestrator.cache.refuse_stal'],
      [{ ...hello, stream: true, orchestrator: { cache: { mode: 'use' } } }, 'orchestrator.cache.mode'],
      [
        { ...hello, orchestrator: { strategy: 'fallback', models: ['gpt-3.5-turbo'], cache: { allow_stale: true } } },
        'orchestrator.cache.allow_stale',
      ],
      // A routed request never reads the cache (its model is not known until it is ranked), as on gRPC.
      [{ ...hello, model: 'route:speed', orchestrator: { cache: { mode: 'use' } } }, 'orchestrator.cache.mode'],
      [{ ...hello, orchestrator: { route: { profile: 'budget' }, cache: { allow_stale: true } } }, 'orchestrator.cache.allow_stale'],
    ];
    for (const [request, param] of cases) {
      const res = await post(request);
      expect(res.status, param).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param, param).toBe(param);
    }
    // Where they apply: a single model; "bypass" and refuse_stale hold anywhere.
    expect((await post({ ...hello, orchestrator: { cache: { mode: 'bypass', refuse_stale: true } } })).status).toBe(200);
    expect((await post({ ...hello, model: 'route:speed', orchestrator: { cache: { mode: 'bypass', refuse_stale: true } } })).status).toBe(
      200,
    );
  });
});
