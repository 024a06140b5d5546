import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let base: string;
beforeAll(async () => {
  h = await startHarness();
  base = h.app.http!.url;
});
afterAll(async () => h?.close());

type Listed = { id: string; x_orchestrator: { capabilities: { tools: boolean; images: boolean; json_schema: boolean } } };

describe('GET /v1/models and ListModels', () => {
  it("show each model's capabilities alike, so an HTTP client can tell which models take tools, images and JSON Schema", async () => {
    const { response } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    const listed = (await (await fetch(`${base}/v1/models`)).json()) as { data: Listed[] };
    expect(listed.data.map((m) => m.id)).toEqual(response.models.map((m) => m.id));
    for (const [i, model] of response.models.entries()) {
      const caps = model.capabilities ?? { tools: false, images: false, jsonSchema: false };
      expect(listed.data[i]?.x_orchestrator.capabilities, model.id).toEqual({
        tools: caps.tools,
        images: caps.images,
        json_schema: caps.jsonSchema,
      });
    }
    const byId = (id: string) => listed.data.find((m) => m.id === id)?.x_orchestrator.capabilities;
    expect(byId('gpt-4o')).toEqual({ tools: true, images: true, json_schema: true });
    expect(byId('gpt-3.5-turbo')).toEqual({ tools: true, images: false, json_schema: false });
    // An embedding model takes none of them: text in, vectors out.
    expect(byId('text-embedding-3-small')).toEqual({ tools: false, images: false, json_schema: false });

    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    const one = (await client.models.retrieve('gpt-4-turbo')) as unknown as Listed;
    expect(one.x_orchestrator.capabilities).toEqual({ tools: true, images: true, json_schema: false });
  });

  it('serves a catalog id with a slash in it (an OpenRouter-style runtime model), encoded or not, by id or alias in any case', async () => {
    await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: {
        id: 'meta-llama/llama-3-8b',
        provider: 'openai',
        upstreamId: 'gpt-4o-mini',
        aliases: ['llama3:8b'],
        fallbacks: [],
        family: '',
        tier: 0,
      },
    });
    for (const path of ['meta-llama/llama-3-8b', 'meta-llama%2Fllama-3-8b', 'META-LLAMA/Llama-3-8B', 'llama3%3A8b']) {
      const res = await fetch(`${base}/v1/models/${path}`);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as { id: string }).id, path).toBe('meta-llama/llama-3-8b');
    }
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    expect((await client.models.retrieve('meta-llama/llama-3-8b')).id).toBe('meta-llama/llama-3-8b');
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('meta-llama/llama-3-8b');
    // A slashed name the catalog lacks is still the 404 of any unknown id.
    await expect(client.models.retrieve('meta-llama/llama-3.3-70b-instruct')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('refuses a path whose percent-encoding does not decode (a bare %, bytes that are not UTF-8) in the OpenAI error shape, with a request id', async () => {
    for (const path of ['/v1/models/gpt-4o%', '/v1/models/gpt%ZZ', '/v1/models/%E0%A4%A', '/v1/chat/completions%ZZ']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(400);
      const requestId = res.headers.get('x-request-id');
      expect(requestId, path).toBeTruthy();
      const body = (await res.json()) as {
        error: { type: string; code: string; reason: string; param: string | null; request_id: string };
      };
      expect(body.error, path).toMatchObject({
        type: 'invalid_request_error',
        code: 'invalid_url',
        reason: 'INVALID_REQUEST',
        param: null,
        request_id: requestId,
      });
    }
  });
});
