import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { OrchestratorError } from '../../../src/domain/errors.js';
import type { BatchRequest, BatchResponse } from '../../../src/gen/orchestrator/v1/chat.js';
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
    expect(logged[0]).toMatchObject({ msg: 'internal error', index: 1, itemRequestId: 'broken' });
    expect(JSON.stringify(logged[0])).toContain("reading 'choices'");
  });
});
