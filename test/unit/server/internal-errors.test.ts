import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { OrchestratorError } from '../../../src/domain/errors.js';
import { type BatchRequest, type BatchResponse, FallbackRequest, type FallbackResponse } from '../../../src/gen/orchestrator/v1/chat.js';
import { chatService } from '../../../src/server/handlers/chat.js';
import { Lifecycle } from '../../../src/server/lifecycle.js';
import { engineFixture } from '../../helpers/engine-fixture.js';
import { SERVER_LIMITS as LIMITS } from '../../helpers/engine-fixture.js';
import { fakeStreamCall, within } from '../../helpers/fake-stream-call.js';

/** ChatService over a scripted engine whose gpt-4o-mini attempts hit a bug of the gateway's own code, logging to `lines`. */
function service() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const { engine, provider } = engineFixture();
  provider.script('gpt-4o', { kind: 'answer', content: 'fine' });
  const bug = new TypeError("Cannot read properties of undefined (reading 'choices')");
  provider.script('gpt-4o-mini', { kind: 'fail', error: bug as unknown as OrchestratorError });
  const log = pino({ level: 'info' }, stream);
  const chat = chatService({ log, lifecycle: new Lifecycle(), defaultTimeoutMs: 60_000 }, engine, LIMITS);
  return { chat, lines };
}

describe('an INTERNAL error, whose client sees only "internal error"', () => {
  it('is logged with its cause when it is a Batch item that failed', async () => {
    const { chat, lines } = service();
    const item = (requestId: string, model: string) => ({ requestId, request: { model, prompt: 'hi', messages: [] } });
    const request: BatchRequest = { items: [item('ok', 'gpt-4o'), item('broken', 'gpt-4o-mini')] };
    const { call, ended, written } = fakeStreamCall<BatchRequest, BatchResponse>(request, {
      reading: true,
      path: '/orchestrator.v1.ChatService/Batch',
    });
    chat.batch(call);
    expect(await within(2_000, ended)).toEqual({ code: grpc.status.OK });

    const failed = written.flatMap((m) => (m.event?.$case === 'item' && m.event.item.outcome?.$case === 'error' ? [m.event.item] : []));
    expect(failed.map((i) => [i.requestId, i.outcome?.$case === 'error' ? i.outcome.error : undefined])).toEqual([
      ['broken', expect.objectContaining({ code: grpc.status.INTERNAL, message: 'internal error' })],
    ]);
    const logged = lines.filter((l) => l.level === 50);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ msg: 'internal error', itemRequestId: 'broken', model: 'gpt-4o-mini' });
    expect(JSON.stringify(logged[0])).toContain("reading 'choices'");
  });

  it('is logged with its cause when a Fallback moved past it to a model that answered', async () => {
    const { chat, lines } = service();
    const request = FallbackRequest.decode(
      FallbackRequest.encode({ ...FallbackRequest.decode(new Uint8Array()), models: ['gpt-4o-mini', 'gpt-4o'], prompt: 'hi' }).finish(),
    );
    const { call } = fakeStreamCall<FallbackRequest, FallbackResponse>(request, {
      reading: true,
      path: '/orchestrator.v1.ChatService/Fallback',
    });
    const answered = new Promise<{ err: unknown; response: FallbackResponse | undefined }>((resolve) => {
      chat.fallback(call as unknown as grpc.ServerUnaryCall<FallbackRequest, FallbackResponse>, (err, response) =>
        resolve({ err, response: response ?? undefined }),
      );
    });
    const { err, response } = await answered;
    expect(err).toBeNull();
    expect(response).toMatchObject({ model: 'gpt-4o', fallbackTriggered: true });
    const logged = lines.filter((l) => l.level === 50);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ msg: 'internal error', model: 'gpt-4o-mini' });
    expect(JSON.stringify(logged[0])).toContain("reading 'choices'");
  });

  it('is logged once, with its cause, when it is the failure a Chat ends with', async () => {
    const { chat, lines } = service();
    const request = { model: 'gpt-4o-mini', prompt: 'hi', messages: [] };
    const { call } = fakeStreamCall<typeof request, unknown>(request, { reading: true, path: '/orchestrator.v1.ChatService/Chat' });
    const failed = await new Promise<grpc.ServiceError | null>((resolve) => {
      chat.chat(call as unknown as Parameters<typeof chat.chat>[0], (err) => resolve(err as grpc.ServiceError | null));
    });
    expect(failed).toMatchObject({ code: grpc.status.INTERNAL });
    const logged = lines.filter((l) => l.level === 50);
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain("reading 'choices'");
  });
});
