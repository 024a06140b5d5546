import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message, Role, RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import * as grpc from '@grpc/grpc-js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/*
 * A routed call classifies the caller's whole text on the event loop. These prompts once took
 * seconds to minutes there (a regex quadratic in runs of newlines, BPE quadratic in long CJK
 * runs), stalling every other call; now classification reads a bounded sample, so a health check
 * sent while they are in flight answers about as fast as on an idle server.
 */
const CJK_BLOCK = Array.from({ length: 50_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
const NEWLINES = `a${'\n'.repeat(49_999)}`;

/** Health checks one after another until `until` settles; the slowest round trip. */
async function slowestHealthCheck(h: Harness, until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  let maxMs = 0;
  let checks = 0;
  while (!done || checks < 5) {
    const started = performance.now();
    await callUnary(h.clients.health.check.bind(h.clients.health), { service: '' });
    maxMs = Math.max(maxMs, performance.now() - started);
    checks++;
  }
  return maxMs;
}

/**
 * The most a call may add to a health check. Before classification was bounded these calls
 * stalled the server for seconds to minutes; a quarter second stays well below that, and above
 * what a busy machine's noise alone moves a health check between trials (tens of milliseconds).
 */
const STALL_MS = 250;

/**
 * How much slower the slowest health check is while `call` runs than just before it, in the
 * best of three trials: a stall caused by the call happens in every trial, a pause of this
 * busy machine does not.
 */
async function addedHealthLatencyMs<T>(h: Harness, call: () => Promise<T>): Promise<{ addedMs: number; result: T }> {
  let addedMs = Number.POSITIVE_INFINITY;
  let result: T | undefined;
  for (let trial = 0; trial < 3; trial++) {
    const idle = await slowestHealthCheck(h, new Promise((resolve) => setTimeout(resolve, 100)));
    const running = call();
    const busy = await slowestHealthCheck(h, running);
    result = await running;
    addedMs = Math.min(addedMs, busy - idle);
  }
  return { addedMs, result: result as T };
}

describe('a large routed request does not stall the server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // Loads the tokenizer's tables (a one-time cost) before anything is timed.
    await callUnary(h.clients.models.rankModels.bind(h.clients.models), {
      profile: RoutingProfile.ROUTING_PROFILE_BALANCED,
      prompt: 'hello',
      candidates: [],
    });
  });
  afterAll(async () => h.close());

  it('a health check sent during a routed Chat of pathological text answers within milliseconds', async () => {
    // Small enough in bytes that relaying it upstream costs little: what is left is classification.
    const messages = [
      Message.fromJSON({ role: Role.ROLE_USER, content: NEWLINES }),
      Message.fromJSON({ role: Role.ROLE_USER, content: NEWLINES }),
      Message.fromJSON({ role: Role.ROLE_USER, content: CJK_BLOCK.slice(0, 8_000) }),
    ];
    const chat = (content: typeof messages, routed: boolean) => () =>
      callUnary(h.clients.chat.chat.bind(h.clients.chat), {
        model: routed ? '' : 'gpt-4.1',
        prompt: '',
        messages: content,
        ...(routed ? { route: { profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT, candidates: [] } } : {}),
        maxTokens: 16,
      });
    // Warms both paths with the same shapes, smaller.
    const small = messages.map((m) => ({ ...m, content: m.content.slice(0, 2_000) }));
    await chat(small, true)();
    await chat(small, false)();
    const routed = await addedHealthLatencyMs(h, chat(messages, true));
    const plain = await addedHealthLatencyMs(h, chat(messages, false));
    expect(routed.result.response.routeDecision?.promptTokens).toBeGreaterThan(10_000);
    // Relaying the call costs what it costs with or without a route; routing adds no stall.
    expect(routed.addedMs).toBeLessThan(Math.max(plain.addedMs, 0) + STALL_MS);
  });

  it('a health check sent during RankModels of a 500 KB prompt answers within milliseconds', async () => {
    const prompt = (NEWLINES + CJK_BLOCK.slice(0, 10_000)).repeat(6);
    const rank = () =>
      callUnary(h.clients.models.rankModels.bind(h.clients.models), {
        profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT,
        prompt,
        candidates: [],
      });
    const { addedMs, result } = await addedHealthLatencyMs(h, rank);
    expect(result.response.decision?.promptTokens).toBeGreaterThan(50_000);
    expect(addedMs).toBeLessThan(STALL_MS);
  });

  it('RankModels takes a prompt longer than a chat message may be, or only its size', async () => {
    const rank = h.clients.models.rankModels.bind(h.clients.models);
    const long = 'The river carries sediment downstream. '.repeat(5_000);
    const byText = (await callUnary(rank, { profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT, prompt: long, candidates: [] })).response
      .decision!;
    expect(byText.promptTokens).toBeGreaterThan(30_000);
    const bySize = (
      await callUnary(rank, {
        profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT,
        prompt: '',
        candidates: ['gpt-4o-mini', 'gpt-4.1'],
        promptTokens: 300_000,
      })
    ).response.decision!;
    expect(bySize.promptTokens).toBe(300_000);
    // 300,000 tokens fit gpt-4.1's window (about 1M) but not gpt-4o-mini's (128k).
    expect(bySize.chosenModel).toBe('gpt-4.1');
    expect(bySize.ranking.find((r) => r.model === 'gpt-4o-mini')?.excludedReason).toMatch(/context window/);
    const bad = await unaryError(rank, {
      profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT,
      prompt: 'hi',
      candidates: [],
      promptTokens: -5,
    });
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['prompt_tokens']);
  });
});
