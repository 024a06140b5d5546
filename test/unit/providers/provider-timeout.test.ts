import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import { startSimulator, type Simulator } from '../../../src/simulator/index.js';
import type { Provider, ProviderRequest } from '../../../src/providers/types.js';

let upstream: Simulator;
beforeAll(async () => {
  upstream = await startSimulator({ latencyScale: 0 });
});
afterAll(async () => upstream.close());

function request(model: string): ProviderRequest {
  return {
    upstreamModel: model,
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0.7,
    maxTokens: 16,
    signal: new AbortController().signal,
  };
}

async function failureOf(run: () => Promise<unknown>): Promise<OrchestratorError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof OrchestratorError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe("a provider's timeout_ms", () => {
  const cases: [string, string, () => Provider][] = [
    ['openai', 'gpt-4o', () => new OpenAIProvider({ name: 'sim-openai', baseURL: upstream.baseURL, apiKey: 'k', timeoutMs: 200 })],
    [
      'anthropic',
      'claude-sonnet-5-5',
      () => new AnthropicProvider({ name: 'sim-anthropic', baseURL: upstream.url, apiKey: 'k', timeoutMs: 200 }),
    ],
  ];
  for (const [kind, model, make] of cases) {
    it(`${kind}: an upstream that does not answer in time fails as DEADLINE_EXCEEDED UPSTREAM_TIMEOUT, retryable`, async () => {
      const provider = make();
      upstream.injectFault({ kind: 'hang', model, times: 2 });
      const started = performance.now();
      const unary = await failureOf(() => provider.complete(request(model)));
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(unary).toMatchObject({ kind: 'deadline_exceeded', reason: Reason.UPSTREAM_TIMEOUT, retryable: true });
      expect(unary.message).toContain('200 ms');
      const streamed = await failureOf(async () => {
        for await (const _ of provider.stream(request(model))) void _;
      });
      expect(streamed).toMatchObject({ kind: 'deadline_exceeded', reason: Reason.UPSTREAM_TIMEOUT });
      await provider.close?.();
    });
  }
});
