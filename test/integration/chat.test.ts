import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Message, Role } from '../../src/gen/orchestrator/v1/common.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { AttemptOutcome, FinishReason } from '../../src/gen/orchestrator/v1/common.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { DEFAULT_MODEL: 'gpt-4o-mini' } });
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

/** What the upstream itself answers for the same request, to compare with what we relay. */
async function direct(
  model: string,
  prompt: string,
  maxTokens = 500,
): Promise<{ content: string; usage: { prompt_tokens: number; completion_tokens: number } }> {
  const res = await fetch(`${h.upstream.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }], temperature: 0.7, max_tokens: maxTokens }),
  });
  const body = (await res.json()) as {
    choices: { message: { content: string } }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  return { content: body.choices[0]?.message.content ?? '', usage: body.usage };
}

const chat = () => h.clients.chat.chat.bind(h.clients.chat);

describe('Chat', () => {
  it('answers a prompt with the upstream content, usage, cost, latency and one attempt', async () => {
    const { response } = await callUnary(chat(), { model: 'gpt-4o', prompt: 'Explain gRPC deadlines', messages: [] });
    const expected = await direct('gpt-4o', 'Explain gRPC deadlines');
    expect(response.content).toBe(expected.content);
    expect(response.model).toBe('gpt-4o');
    expect(response.provider).toBe('openai');
    expect(response.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    expect(response.usage?.promptTokens).toBe(expected.usage.prompt_tokens);
    expect(response.usage?.completionTokens).toBe(expected.usage.completion_tokens);
    const expectedCost = (expected.usage.prompt_tokens * 2.5 + expected.usage.completion_tokens * 10) / 1e6;
    expect(response.costUsd).toBeCloseTo(expectedCost, 10);
    expect(response.latencyMs).toBeGreaterThan(0);
    expect(response.attempts).toHaveLength(1);
    expect(response.attempts[0]).toMatchObject({ model: 'gpt-4o', outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS });
  });

  it('uses DEFAULT_MODEL when model is empty and accepts a conversation', async () => {
    const { response } = await callUnary(chat(), {
      model: '',
      prompt: '',
      messages: [
        Message.fromJSON({ role: Role.ROLE_SYSTEM, content: 'You are terse.' }),
        Message.fromJSON({ role: Role.ROLE_USER, content: 'Say hi' }),
      ],
    });
    expect(response.model).toBe('gpt-4o-mini');
    const sent = h.upstream.requests.at(-1)?.body as { messages: { role: string }[]; model: string };
    expect(sent.model).toBe('gpt-4o-mini');
    expect(sent.messages.map((m) => m.role)).toEqual(['system', 'user']);
  });

  it('round-trips x-request-id in headers, trailers and the answer', async () => {
    const { response, headers, trailers } = await callUnary(
      chat(),
      { model: '', prompt: 'hi', messages: [] },
      { metadata: { 'x-request-id': 'req-abc-123' } },
    );
    expect(response.requestId).toBe('req-abc-123');
    expect(headers.get('x-request-id')).toEqual(['req-abc-123']);
    expect(trailers.get('x-request-id')).toEqual(['req-abc-123']);
  });

  it('replaces a request id with a space or over 128 characters, as the calling guide says', async () => {
    for (const given of ['order 42', 'a'.repeat(129)]) {
      const { response, trailers } = await callUnary(
        chat(),
        { model: '', prompt: 'hi', messages: [] },
        { metadata: { 'x-request-id': given } },
      );
      expect(response.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(trailers.get('x-request-id')).toEqual([response.requestId]);
    }
    const longest = 'a'.repeat(128);
    const kept = await callUnary(chat(), { model: '', prompt: 'hi', messages: [] }, { metadata: { 'x-request-id': longest } });
    expect(kept.response.requestId).toBe(longest);
  });

  it('generates a request id when the caller sends none, also on errors', async () => {
    const { response } = await callUnary(chat(), { model: '', prompt: 'hi', messages: [] });
    expect(response.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const err = await unaryError(chat(), { model: '', prompt: '', messages: [] });
    expect(String(err.metadata.get('x-request-id')[0])).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('Chat validation', () => {
  it('lists every bad field in BadRequest', async () => {
    const err = await unaryError(chat(), {
      model: '',
      prompt: '',
      messages: [
        Message.fromJSON({ role: Role.ROLE_UNSPECIFIED, content: 'x' }),
        Message.fromJSON({ role: Role.ROLE_USER, content: '   ' }),
        Message.fromJSON({ role: Role.ROLE_USER, content: 'y'.repeat(50_001) }),
      ],
      temperature: 2.5,
      maxTokens: 0,
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.errorInfo?.reason).toBe('INVALID_REQUEST');
    const fields = err.decoded.badRequest?.fieldViolations.map((v) => v.field);
    expect(fields).toEqual(['messages[0].role', 'messages[1].content', 'messages[2].content', 'temperature', 'max_tokens']);
    const long = err.decoded.badRequest?.fieldViolations.find((v) => v.field === 'messages[2].content');
    expect(long?.description).toContain('50000');
  });

  it('requires exactly one of prompt and messages', async () => {
    const none = await unaryError(chat(), { model: '', prompt: '', messages: [] });
    expect(none.decoded.badRequest?.fieldViolations[0]?.field).toBe('messages');
    const both = await unaryError(chat(), { model: '', prompt: 'a', messages: [Message.fromJSON({ role: Role.ROLE_USER, content: 'b' })] });
    expect(both.decoded.badRequest?.fieldViolations[0]?.field).toBe('prompt');
  });

  it('rejects max_tokens above the model limit', async () => {
    const err = await unaryError(chat(), { model: 'gpt-3.5-turbo', prompt: 'a', messages: [], maxTokens: 100_000 });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations[0]).toMatchObject({ field: 'max_tokens' });
  });

  it('answers NOT_FOUND for an unknown model', async () => {
    const err = await unaryError(chat(), { model: 'gpt-17', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toContain('gpt-17');
    expect(err.decoded.errorInfo).toMatchObject({ reason: 'MODEL_NOT_FOUND', domain: 'llm-orchestrator' });
  });
});

describe('Chat upstream failures', () => {
  it('maps an upstream 500 to UNAVAILABLE without leaking the upstream body', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, times: 1 });
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_ERROR');
    expect(err.decoded.errorInfo?.metadata).toMatchObject({ provider: 'openai', upstream_status: '500' });
    expect(err.details).not.toMatch(/simulat/i);
  });

  it('maps a 429 to UNAVAILABLE with RetryInfo from Retry-After', async () => {
    h.upstream.injectFault({ kind: 'rate_limit', retryAfter: '7', times: 1 });
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_RATE_LIMITED');
    expect(err.decoded.retryInfo?.retryDelay).toMatchObject({ seconds: 7 });
  });

  it('maps an upstream 400 to INVALID_ARGUMENT', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 400, times: 1 });
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_REJECTED_REQUEST');
  });

  it('maps a malformed body to UNAVAILABLE UPSTREAM_MALFORMED_RESPONSE', async () => {
    h.upstream.injectFault({ kind: 'malformed', times: 1 });
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_MALFORMED_RESPONSE');
  });

  it('treats an answer without finish_reason as truncated', async () => {
    h.upstream.injectFault({ kind: 'truncate', times: 1 });
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
  });

  it('answers DEADLINE_EXCEEDED when the caller deadline passes, and closes the upstream request', async () => {
    h.upstream.injectFault({ kind: 'hang', times: 1 });
    const before = h.upstream.requests.length;
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'a', messages: [] }, { deadlineMs: 300 });
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests[before]?.outcome).toBe('client_closed');
  });
});

describe('Chat with a far deadline', () => {
  const DAY_MS = 86_400_000;

  it('answers under a 30-day deadline, which no Node timer holds (the client sends grpc-timeout 2592000S)', async () => {
    const { response } = await callUnary(chat(), { model: 'gpt-4o', prompt: 'a far deadline', messages: [] }, { deadlineMs: 30 * DAY_MS });
    expect(response.model).toBe('gpt-4o');
    expect(response.content.length).toBeGreaterThan(0);
  });

  it('answers under the largest grpc-timeout a client can send (99999999H), and a near one still ends the call', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('grpc-timeout', '99999999H');
    const far = await new Promise<grpc.ServiceError | null>((resolve) =>
      h.clients.chat.chat({ model: 'gpt-4o', prompt: 'no real deadline', messages: [] }, metadata, (err) => resolve(err)),
    );
    expect(far).toBeNull();
    h.upstream.injectFault({ kind: 'hang', times: 1 });
    const near = new grpc.Metadata();
    near.set('grpc-timeout', '300m');
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      h.clients.chat.chat({ model: 'gpt-4o', prompt: 'a near deadline', messages: [] }, near, (e) => resolve(e)),
    );
    expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});

describe('Chat with a grpc-timeout outside its grammar (1 to 8 digits, then one unit)', () => {
  it.each(['1.5S', '-1S', '+5S', '123456789S', '5SS', '5 S S'])(
    'refuses %j as grpc-js refuses other malformed ones, instead of reading a part of it',
    async (timeout) => {
      const metadata = new grpc.Metadata();
      metadata.set('grpc-timeout', timeout);
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        h.clients.chat.chat({ model: 'gpt-4o', prompt: 'a malformed deadline', messages: [] }, metadata, (e) => resolve(e)),
      );
      expect(err?.code).toBe(grpc.status.INTERNAL);
      expect(err?.details).toBe(`Invalid grpc-timeout value "${timeout}"`);
    },
  );
});

describe('Chat with the default deadline', () => {
  let short: Harness;
  beforeAll(async () => {
    short = await startHarness({ env: { DEFAULT_TIMEOUT: '0.3' } });
  });
  afterAll(async () => short.close());

  it('ends a call that carries no deadline at DEFAULT_TIMEOUT with DEADLINE_EXCEEDED and details', async () => {
    short.upstream.injectFault({ kind: 'hang', times: 1 });
    const started = Date.now();
    const err = await unaryError(short.clients.chat.chat.bind(short.clients.chat), { model: 'gpt-4o', prompt: 'a', messages: [] });
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.decoded.errorInfo?.reason).toBe('DEADLINE_EXCEEDED');
    expect(err.decoded.errorInfo?.metadata?.attempts).toContain('gpt-4o');
    await short.upstream.waitForIdle(2_000);
    expect(short.upstream.requests[0]?.outcome).toBe('client_closed');
  });
});

describe('Chat whose deadline has passed when it arrives', () => {
  it('ends DEADLINE_EXCEEDED without sending anything upstream or charging for it', async () => {
    for (const timeout of ['0m', '1n', '0S']) {
      const before = h.upstream.requests.length;
      const costBefore = await totalCost();
      const metadata = new grpc.Metadata();
      metadata.set('grpc-timeout', timeout);
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        h.clients.chat.chat({ model: 'gpt-4o', prompt: 'too late', messages: [] }, metadata, (e) => resolve(e)),
      );
      expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      // An upstream request would have arrived by the time a later call is answered.
      await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
      await h.upstream.waitForIdle(2_000);
      expect({ timeout, sent: h.upstream.requests.length - before }).toEqual({ timeout, sent: 0 });
      expect(await totalCost()).toBe(costBefore);
    }
  });
});

async function totalCost(): Promise<number> {
  const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
  return response.totalCostUsd;
}
