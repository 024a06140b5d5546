import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let base: string;
beforeAll(async () => {
  h = await startHarness();
  base = h.app.http!.url;
});
afterAll(async () => h?.close());

type ErrorBody = { error: { code: string; message: string } };

describe('the HTTP API routes', () => {
  it('answers a model path with a slash in it (an upstream id such as OpenRouter names) with 404 model_not_found, as any unknown id', async () => {
    // None of these is in this catalog; a slashed id that is is served (http-models-catalog.test.ts).
    for (const path of ['meta-llama/llama-3.3-70b-instruct', 'meta-llama%2Fllama-3.3-70b-instruct', 'no-such-model']) {
      const res = await fetch(`${base}/v1/models/${path}`);
      expect(res.status, path).toBe(404);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code, path).toBe('model_not_found');
      expect(body.error.message, path).toContain(decodeURIComponent(path));
    }
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    await expect(client.models.retrieve('meta-llama/llama-3.3-70b-instruct')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await client.models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    // The static route still wins over an id.
    expect((await fetch(`${base}/v1/models/rankings?profile=speed`)).status).toBe(200);
  });

  it('answers a known path with the wrong method with 405 and Allow, embeddings included', async () => {
    for (const [path, allow] of [
      ['/v1/embeddings', 'POST'],
      ['/v1/chat/completions', 'POST'],
      ['/v1/models/gpt-4o', 'GET, HEAD'],
      ['/v1/models', 'GET, HEAD'],
      ['/health', 'GET, HEAD'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method: allow === 'POST' ? 'GET' : 'DELETE' });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow'), path).toBe(allow);
      expect(((await res.json()) as ErrorBody).error.code).toBe('method_not_allowed');
      // Allow lists every method the path answers (RFC 9110): HEAD is served wherever GET is.
      if (allow !== 'POST') expect((await fetch(`${base}${path}`, { method: 'HEAD' })).status, path).toBe(200);
    }
  });

  it('answers a wrong method with 405 whatever its body, one that is not JSON or of another type included', async () => {
    for (const [method, type, body] of [
      ['PUT', 'application/json', '{"model":'],
      ['DELETE', 'application/json', '{"model":'],
      ['PATCH', 'text/plain', 'hello'],
    ] as const) {
      const res = await fetch(`${base}/v1/chat/completions`, { method, headers: { 'content-type': type }, body });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow'), method).toBe('POST');
      expect(((await res.json()) as ErrorBody).error.code, method).toBe('method_not_allowed');
    }
    const unknown = await fetch(`${base}/v1/nowhere`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(unknown.status).toBe(404);
  });

  it('gives a fallback its models whole under a far deadline (x-request-timeout-ms past what a Node timer holds)', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-timeout-ms': '99999999999999' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 3,
        orchestrator: { strategy: 'fallback', models: ['gpt-3.5-turbo'] },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; x_orchestrator: { attempts: { outcome: string }[] } };
    // Not a timeout after 1 ms on the first model, then the next one.
    expect(body.model).toBe('gpt-4o-mini');
    expect(body.x_orchestrator.attempts.map((a) => a.outcome)).toEqual(['success']);
  });

  it('takes a routing profile named alike in the model, the header and the body in any case, a null one as absent', async () => {
    const post = (body: Record<string, unknown>, profile: string) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orchestrator-profile': profile },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 2, ...body }),
      });
    expect((await post({ model: 'route:Speed' }, 'speed')).status).toBe(200);
    expect((await post({ model: 'route:speed', orchestrator: { route: { profile: 'SPEED' } } }, ' Speed ')).status).toBe(200);
    expect((await post({ model: 'gpt-4o-mini', orchestrator: { route: { profile: null } } }, 'speed')).status).toBe(200);
    // The CLI's spelling of the long-context profile is taken too.
    expect((await post({ model: 'route:long-context', orchestrator: { route: { profile: 'long_context' } } }, 'Long-Context')).status).toBe(
      200,
    );
    const ranked = await fetch(`${base}/v1/models/rankings?profile=Long-Context`);
    expect(ranked.status).toBe(200);
    expect(((await ranked.json()) as { profile: string }).profile).toBe('long_context');
    const differ = await post({ model: 'route:speed' }, 'budget');
    expect(differ.status).toBe(400);
    expect(((await differ.json()) as { error: { param: string } }).error.param).toBe('orchestrator.route.profile');
  });
});
