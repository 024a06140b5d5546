import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RoutingProfile, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** The same request through both doors gives the same answer: one engine behind gRPC and HTTP. */

let h: Harness;
let client: OpenAI;
beforeAll(async () => {
  // Real latency profiles, so a race has a predictable winner (gpt-4o-mini answers before gpt-4-turbo).
  h = await startHarness({ latencyScale: 1 });
  client = new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

const prompt = 'Explain a circuit breaker in one sentence';
const messages = [{ role: 'user' as const, content: prompt }];

interface Ext {
  x_orchestrator: {
    fallback_triggered: boolean;
    route_decision: { chosen_model: string } | null;
    attempts: { model: string; outcome: string }[];
  };
}

function usageOf(u: { promptTokens: number; completionTokens: number; totalTokens: number } | undefined) {
  return { prompt_tokens: u?.promptTokens, completion_tokens: u?.completionTokens, total_tokens: u?.totalTokens };
}

describe('gRPC and HTTP give the same answer', () => {
  it('fallback: the failing primary, then the next model of the chain', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 502, model: 'gpt-4-turbo' });
    const { response: grpc } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      model: '',
      prompt,
      messages: [],
      models: ['gpt-4-turbo', 'gpt-4o-mini'],
      disableDefaultMessage: true,
    });
    const http = (await client.chat.completions.create({
      model: 'gpt-4-turbo',
      messages,
      orchestrator: { strategy: 'fallback', models: ['gpt-4o-mini'], disable_default_message: true },
    } as never)) as OpenAI.ChatCompletion & Ext;
    expect(grpc.modelUsed).toBe('gpt-4o-mini');
    expect(http.model).toBe(grpc.modelUsed);
    expect(http.choices[0]?.message.content).toBe(grpc.content);
    expect(http.usage).toMatchObject(usageOf(grpc.usage));
    expect(http.x_orchestrator.fallback_triggered).toBe(grpc.fallbackTriggered);
    expect(http.x_orchestrator.attempts.map((a) => a.model)).toEqual(['gpt-4-turbo', 'gpt-4o-mini']);
  });

  it('fallback from the x-orchestrator-fallbacks header, for clients that cannot add body fields', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 502, model: 'gpt-4-turbo' });
    const http = (await client.chat.completions.create(
      { model: 'gpt-4-turbo', messages },
      { headers: { 'x-orchestrator-fallbacks': 'gpt-4o-mini' } },
    )) as OpenAI.ChatCompletion & Ext;
    expect(http.model).toBe('gpt-4o-mini');
    expect(http.x_orchestrator.fallback_triggered).toBe(true);
  });

  it('race: the fastest model wins on both', async () => {
    const { response: grpc } = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      model: '',
      prompt,
      messages: [],
      models: ['gpt-4-turbo', 'gpt-4o-mini'],
    });
    const http = (await client.chat.completions.create({
      model: 'gpt-4-turbo',
      messages,
      orchestrator: { strategy: 'race', models: ['gpt-4o-mini'] },
    } as never)) as OpenAI.ChatCompletion & Ext;
    expect(grpc.model).toBe('gpt-4o-mini');
    expect(http.model).toBe(grpc.model);
    expect(http.choices[0]?.message.content).toBe(grpc.content);
    expect(http.usage).toMatchObject(usageOf(grpc.usage));
    expect(http.x_orchestrator.attempts.map((a) => [a.model, a.outcome])).toEqual([
      ['gpt-4-turbo', 'cancelled'],
      ['gpt-4o-mini', 'success'],
    ]);
  });

  it('routing: model "route:quality" picks what a routed gRPC Chat picks', async () => {
    const { response: grpc } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt,
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: [] },
    });
    const http = (await client.chat.completions.create({ model: 'route:quality', messages })) as OpenAI.ChatCompletion & Ext;
    expect(http.model).toBe(grpc.model);
    expect(http.x_orchestrator.route_decision?.chosen_model).toBe(grpc.routeDecision?.chosenModel);
    expect(http.choices[0]?.message.content).toBe(grpc.content);
    expect(http.usage).toMatchObject(usageOf(grpc.usage));
    // The header form and the body form route the same way.
    const viaHeader = await client.chat.completions.create(
      { model: 'gpt-4o', messages },
      { headers: { 'x-orchestrator-profile': 'quality' } },
    );
    expect(viaHeader.model).toBe(grpc.model);
  });

  it('a streamed fallback chain: the same text and usage as StreamChat', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 502, model: 'gpt-4-turbo' });
    const grpc = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ prompt, strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK, models: ['gpt-4-turbo', 'gpt-4o-mini'] }),
      ),
    );
    const grpcText = grpc.messages.map((m: StreamChatResponse) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
    const completed = grpc.messages.map((m) => m.event).find((e) => e?.$case === 'completed');
    const stream = (await client.chat.completions.create({
      model: 'gpt-4-turbo',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      orchestrator: { strategy: 'fallback', models: ['gpt-4o-mini'] },
    } as never)) as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>;
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(completed?.$case === 'completed' && completed.completed.model).toBe('gpt-4o-mini');
    expect(chunks[0]?.model).toBe('gpt-4o-mini');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(grpcText);
    expect(chunks.at(-1)?.usage).toMatchObject(usageOf(completed?.$case === 'completed' ? completed.completed.usage : undefined));
  });
});
