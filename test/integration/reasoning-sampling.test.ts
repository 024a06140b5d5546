import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import type { SamplingOptions } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * OpenAI's reasoning models answer top_p, presence_penalty and frequency_penalty with a 400
 * (unsupported_parameter): the gateway treats them as models that do not take sampling
 * parameters, as it treats a model without tools, before any upstream call.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const sampled = (fields: Partial<SamplingOptions>): SamplingOptions => ({ stop: [], user: '', reasoningEffort: 0, ...fields });
const base = { prompt: 'Tell me about rivers', messages: [] };
const callsTo = (model: string) => h.upstream.requests.filter((r) => (r.body as { model?: string } | undefined)?.model === model).length;
const BYPASS = { mode: 2, allowStale: false };

describe('sampling parameters on reasoning models', () => {
  it('a Fallback chain skips the reasoning model and answers from the next, with no upstream call to the first', async () => {
    const before = callsTo('o3');
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      models: ['o3', 'gpt-4o-mini'],
      disableDefaultMessage: true,
      sampling: sampled({ topP: 0.5 }),
    });
    expect(response.modelUsed).toBe('gpt-4o-mini');
    expect(response.attempts.map((a) => a.model)).toEqual(['gpt-4o-mini']);
    expect(callsTo('o3')).toBe(before);
  });

  it('Chat naming a reasoning model with top_p is INVALID_ARGUMENT naming the parameter, before any upstream call', async () => {
    const before = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ topP: 0.5, frequencyPenalty: 0.2 }),
    } as ChatRequest);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: 'model',
        description: 'o3 does not take top_p, frequency_penalty, which this request uses: choose a model that does',
      }),
    ]);
    const streamed = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'gpt-5', prompt: 'hi', sampling: sampled({ presencePenalty: 1 }) })),
    );
    expect(streamed.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('the same model without those parameters answers, seed and stop included', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: 'o3',
      sampling: sampled({ seed: 3, stop: ['zz'] }),
    } as ChatRequest);
    expect(response.model).toBe('o3');
  });

  it('routing leaves reasoning models out, with the reason in the ranking', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      ...base,
      model: '',
      route: { profile: 1, candidates: ['gpt-5', 'o3', 'gpt-4o-mini'] },
      sampling: sampled({ topP: 0.9 }),
      cache: BYPASS,
    } as ChatRequest);
    expect(response.model).toBe('gpt-4o-mini');
    const gpt5 = response.routeDecision?.ranking.find((r) => r.model === 'gpt-5');
    expect(gpt5?.eligible).toBe(false);
    expect(gpt5?.excludedReason).toBe('does not take top_p');
  });

  it('the HTTP API refuses it with a 400 on the model', async () => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'o4-mini', messages: [{ role: 'user', content: 'hi' }], top_p: 0.5 }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('model');
    expect(body.error.message).toContain('o4-mini does not take top_p');
  });
});
