import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeStatusDetails } from '../../../src/cli/status-details.js';
import { draining } from '../../../src/domain/errors.js';
import type { BatchRequest, BatchResponse, StreamChatRequest, StreamChatResponse } from '../../../src/gen/orchestrator/v1/chat.js';
import { chatService } from '../../../src/server/handlers/chat.js';
import { Lifecycle } from '../../../src/server/lifecycle.js';
import { engineFixture } from '../../helpers/engine-fixture.js';
import { SERVER_LIMITS as LIMITS } from '../../helpers/engine-fixture.js';
import { type EndStatus, fakeStreamCall, within } from '../../helpers/fake-stream-call.js';
import { streamRequest } from '../../helpers/grpc-client.js';

/** ChatService over a scripted engine, and the Lifecycle shutdown would drive. */
function service() {
  const { engine, provider } = engineFixture();
  const lifecycle = new Lifecycle();
  const chat = chatService({ log: pino({ level: 'silent' }), lifecycle, defaultTimeoutMs: 60_000 }, engine, LIMITS);
  return { chat, provider, lifecycle };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function errorInfo(status: EndStatus | 'still running') {
  expect(status).not.toBe('still running');
  return decodeStatusDetails((status as EndStatus).metadata ?? new grpc.Metadata()).errorInfo;
}

/** A StreamChat whose client read the first group of events, then stopped reading. */
function stalledStream(deadline?: Date) {
  const { chat, provider, lifecycle } = service();
  provider.script('gpt-4o', { kind: 'answer', content: 'one two three four five six seven eight', tokenDelayMs: 30 });
  const fake = fakeStreamCall<StreamChatRequest, StreamChatResponse>(streamRequest({ model: 'gpt-4o', prompt: 'count' }), {
    reading: false,
    path: '/orchestrator.v1.ChatService/StreamChat',
    ...(deadline ? { deadline } : {}),
  });
  chat.streamChat(fake.call);
  return { ...fake, lifecycle };
}

describe('a server stream whose client stopped reading', () => {
  it('StreamChat cut by the end of the grace period: UNAVAILABLE (DRAINING) with the attempt and its partial usage', async () => {
    const { ended, written, lifecycle } = stalledStream();
    await sleep(150);
    expect(written.length).toBeGreaterThan(0);
    expect(lifecycle.active).toBe(1);

    lifecycle.startDraining();
    lifecycle.endAll(draining());
    const status = await within(1_000, ended);
    const info = errorInfo(status);
    expect((status as EndStatus).code).toBe(grpc.status.UNAVAILABLE);
    expect(info?.reason).toBe('DRAINING');
    expect(info?.metadata['attempts']).toMatch(/^gpt-4o:/);
    expect(info?.metadata['prompt_tokens']).toBeDefined();
  });

  it('StreamChat whose deadline passes: DEADLINE_EXCEEDED with the attempt and its partial usage', async () => {
    const { ended } = stalledStream(new Date(Date.now() + 200));
    const status = await within(2_000, ended);
    const info = errorInfo(status);
    expect((status as EndStatus).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(info?.metadata['attempts']).toMatch(/^gpt-4o:/);
  });

  it('StreamChat the client cancels: ends at once and leaves the calls in flight', async () => {
    const { cancel, lifecycle } = stalledStream();
    await sleep(100);
    cancel();
    await sleep(50);
    expect(lifecycle.active).toBe(0);
  });

  it('Batch cut by the end of the grace period ends OK: every item not yet sent is DRAINING, then the summary', async () => {
    const { chat, provider, lifecycle } = service();
    provider.script('gpt-4o', { kind: 'answer', content: 'done' });
    provider.script('gpt-4o-mini', { kind: 'hang' });
    const item = (requestId: string, model: string) => ({ requestId, request: { model, prompt: requestId, messages: [] } });
    const request: BatchRequest = {
      items: [item('done', 'gpt-4o'), item('hung', 'gpt-4o-mini'), item('queued', 'gpt-4o')],
      concurrency: 1,
    };
    const { call, ended, written } = fakeStreamCall<BatchRequest, BatchResponse>(request, {
      reading: false,
      path: '/orchestrator.v1.ChatService/Batch',
    });
    chat.batch(call);
    await sleep(150);
    expect(written).toHaveLength(1);

    lifecycle.startDraining();
    lifecycle.endAll(draining());
    expect(await within(1_000, ended)).toEqual({ code: grpc.status.OK });
    const items = written.flatMap((m) => (m.event?.$case === 'item' ? [m.event.item] : []));
    expect(items.map((i) => [i.requestId, i.outcome?.$case, i.outcome?.$case === 'error' ? i.outcome.error.code : 0])).toEqual([
      ['done', 'response', 0],
      ['hung', 'error', grpc.status.UNAVAILABLE],
      ['queued', 'error', grpc.status.UNAVAILABLE],
    ]);
    expect(written.at(-1)?.event?.$case).toBe('summary');
  });
});
