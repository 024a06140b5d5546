import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import type { GetStatsResponse } from '../../src/gen/orchestrator/v1/stats.js';
import { AttemptOutcome, FinishReason } from '../../src/gen/orchestrator/v1/common.js';
import { collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { eventually } from '../helpers/eventually.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

function stream(prompt: string, model = 'gpt-4o', options: Partial<grpc.CallOptions> = {}, metadata = new grpc.Metadata()) {
  return h.clients.chat.streamChat(streamRequest({ model, prompt }), metadata, options);
}

const text = (messages: StreamChatResponse[]) => messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');

const stats = () =>
  new Promise<GetStatsResponse>((resolve, reject) => h.clients.stats.getStats({}, (err, res) => (err ? reject(err) : resolve(res))));
const gpt4o = (s: GetStatsResponse) => {
  const row = s.models.find((m) => m.name === 'gpt-4o');
  return { cancelled: row?.cancelled ?? 0, completionTokens: row?.completionTokens ?? 0, costUsd: row?.costUsd ?? 0 };
};

describe('StreamChat', () => {
  it('sends started, deltas, completed; the deltas spell the upstream answer', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'stream-1');
    const { messages, status, error } = await collectStream(stream('Tell me a story', 'gpt-4o', {}, metadata));
    expect(error).toBeUndefined();
    expect(status.code).toBe(grpc.status.OK);
    const cases = messages.map((m) => m.event?.$case);
    expect(cases[0]).toBe('started');
    expect(cases.at(-1)).toBe('completed');
    expect(cases.slice(1, -1).every((c) => c === 'delta')).toBe(true);
    expect(cases.length).toBeGreaterThan(5);
    const first = messages[0]?.event;
    expect(first?.$case === 'started' && first.started).toEqual({
      requestId: 'stream-1',
      model: 'gpt-4o',
      provider: 'openai',
      simulated: false,
    });

    const unary = await new Promise<string>((resolve, reject) =>
      h.clients.chat.chat({ model: 'gpt-4o', prompt: 'Tell me a story', messages: [] }, (err, res) =>
        err ? reject(err) : resolve(res.content),
      ),
    );
    expect(text(messages)).toBe(unary);

    const last = messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event');
    expect(last.completed.requestId).toBe('stream-1');
    expect(last.completed.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    expect(last.completed.usage?.completionTokens).toBeGreaterThan(0);
    expect(last.completed.costUsd).toBeGreaterThan(0);
    expect(last.completed.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(last.completed.latencyMs).toBeGreaterThanOrEqual(last.completed.timeToFirstTokenMs);
    expect(last.completed.attempts[0]?.outcome).toBe(AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS);
    const sent = h.upstream.requests.find((r) => r.stream)?.body as { stream_options?: { include_usage?: boolean } };
    expect(sent.stream_options?.include_usage).toBe(true);
  });

  it('ends a stream cut mid-way with UNAVAILABLE STREAM_TRUNCATED after the deltas it got', async () => {
    h.upstream.injectFault({ kind: 'cut', afterTokens: 3, times: 1 });
    const { messages, error } = await collectStream(stream('cut me'));
    expect(messages.filter((m) => m.event?.$case === 'delta').length).toBe(3);
    expect(messages.some((m) => m.event?.$case === 'completed')).toBe(false);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
  });

  it('treats a stream that ends without a finish reason as an error, not a success', async () => {
    h.upstream.injectFault({ kind: 'truncate', afterTokens: 2, times: 1 });
    const { messages, error } = await collectStream(stream('truncate me'));
    expect(messages.some((m) => m.event?.$case === 'completed')).toBe(false);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
  });

  it('reports a malformed chunk as UPSTREAM_MALFORMED_RESPONSE', async () => {
    h.upstream.injectFault({ kind: 'malformed', afterTokens: 1, times: 1 });
    const { error } = await collectStream(stream('garble me'));
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('UPSTREAM_MALFORMED_RESPONSE');
  });

  it('fails before any event when the upstream refuses the request', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 503, times: 1 });
    const { messages, error } = await collectStream(stream('nope'));
    expect(messages).toHaveLength(0);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('UPSTREAM_ERROR');
  });

  it('closes the upstream request when the client cancels mid-stream', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20, times: 1 });
    const before = h.upstream.requests.length;
    const statsBefore = gpt4o(await stats());
    const call = stream('cancel me');
    await new Promise<void>((resolve) => {
      call.on('data', (m: StreamChatResponse) => {
        if (m.event?.$case === 'delta') {
          call.cancel();
          resolve();
        }
      });
    });
    call.on('error', () => undefined);
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests[before]?.outcome).toBe('client_closed');
    // What was generated before the cancel is still accounted for.
    const after = gpt4o(await stats());
    expect(after.cancelled - statsBefore.cancelled).toBe(1);
    expect(after.completionTokens - statsBefore.completionTokens).toBeGreaterThan(0);
    expect(after.costUsd - statsBefore.costUsd).toBeGreaterThan(0);
  });

  it('ends with DEADLINE_EXCEEDED and closes upstream when the deadline passes mid-stream', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 10, times: 1 });
    const before = h.upstream.requests.length;
    const { messages, error } = await collectStream(stream('too slow', 'gpt-4o', { deadline: Date.now() + 400 }));
    expect(messages.some((m) => m.event?.$case === 'delta')).toBe(true);
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests[before]?.outcome).toBe('client_closed');
  });

  it("counts streams ended by the client's own deadline as DEADLINE_EXCEEDED, not as cancels", async () => {
    // The client's timer ends each call (RST_STREAM, as a cancel does) around the moment the
    // server's reading of the same deadline runs out.
    h.upstream.injectFault({ kind: 'delay', delayMs: 30_000, model: 'gpt-4o-mini' });
    const handled = async (code: string) => {
      const text = await (await fetch(h.app.metricsServer?.url ?? '')).text();
      const line = text
        .split('\n')
        .find(
          (l) => l.startsWith('grpc_server_handled_total{') && l.includes('grpc_method="StreamChat"') && l.includes(`grpc_code="${code}"`),
        );
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const [deadlinesBefore, cancelsBefore] = [await handled('DEADLINE_EXCEEDED'), await handled('CANCELLED')];
    for (let i = 0; i < 6; i++) {
      const { error } = await collectStream(stream(`out of time ${i}`, 'gpt-4o-mini', { deadline: Date.now() + 300 }));
      expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    }
    const deadlines = await eventually(
      async () => (await handled('DEADLINE_EXCEEDED')) + (await handled('CANCELLED')) - deadlinesBefore - cancelsBefore,
      (n) => n >= 6,
    );
    expect(deadlines).toBe(6);
    expect((await handled('DEADLINE_EXCEEDED')) - deadlinesBefore).toBe(6);
    expect((await handled('CANCELLED')) - cancelsBefore).toBe(0);
  });
});
