import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FinishedCall } from '../../../src/telemetry/call-observer.js';
import { callLevel, endCall } from '../../../src/telemetry/call-log.js';
import { attemptRecord } from '../../helpers/attempt-record.js';
import { CallSummary } from '../../../src/telemetry/call-summary.js';
import type { CallEnd, CallTrace } from '../../../src/telemetry/tracing.js';

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

function recordingTrace(ends: CallEnd[]): CallTrace {
  return { traceId: 't'.repeat(32), startAttempt: () => ({ headers: {}, end: () => undefined }), end: (e) => void ends.push(e) };
}

describe('endCall: the one per-call line for every protocol', () => {
  it('writes the same fields for gRPC and HTTP, with the protocol and the API key name, and ends the span with the key', async () => {
    const { log, lines } = capture();
    const calls: FinishedCall[] = [];
    const ends: CallEnd[] = [];
    const observer = { recordCall: (c: FinishedCall) => void calls.push(c) };
    const base = {
      kind: 'unary' as const,
      requestId: 'r1',
      startedAt: 0,
      code: 0,
      codeName: 'OK',
      level: 'info' as const,
      peer: () => '127.0.0.1:1',
      keyName: 'team-a',
    };
    endCall(log, observer, {
      ...base,
      protocol: 'grpc',
      path: '/orchestrator.v1.ChatService/Chat',
      method: '/orchestrator.v1.ChatService/Chat',
      summary: new CallSummary(recordingTrace(ends)),
    });
    endCall(log, observer, {
      ...base,
      protocol: 'http',
      path: '/orchestrator.v1.ChatService/ChatCompletions',
      method: 'POST /v1/chat/completions',
      httpStatus: 404,
      code: 5,
      codeName: 'NOT_FOUND',
      level: 'warn',
      details: 'no such model',
      keyName: undefined,
      summary: new CallSummary(recordingTrace(ends)),
    });
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({
      msg: 'call',
      protocol: 'grpc',
      method: '/orchestrator.v1.ChatService/Chat',
      code: 'OK',
      requestId: 'r1',
      key: 'team-a',
    });
    expect(lines[0]).not.toHaveProperty('status');
    expect(lines[1]).toMatchObject({
      msg: 'call',
      protocol: 'http',
      method: 'POST /v1/chat/completions',
      status: 404,
      code: 'NOT_FOUND',
      details: 'no such model',
    });
    expect(lines[1]).not.toHaveProperty('key');
    expect(Object.keys(lines[1] ?? {})).toEqual(
      expect.arrayContaining(Object.keys(lines[0] ?? {}).filter((k) => k !== 'key' && k !== 'time')),
    );
    expect(calls.map((c) => [c.protocol, c.code])).toEqual([
      ['grpc', 'OK'],
      ['http', 'NOT_FOUND'],
    ]);
    expect(ends).toEqual([
      { code: 0, codeName: 'OK', httpStatus: undefined, details: undefined, keyName: 'team-a' },
      { code: 5, codeName: 'NOT_FOUND', httpStatus: 404, details: 'no such model', keyName: undefined },
    ]);
  });

  it('logs OK and a client cancel at info, a bug of ours (INTERNAL, UNKNOWN) at error, any other failure at warn', () => {
    expect(['OK', 'CANCELLED'].map(callLevel)).toEqual(['info', 'info']);
    expect(['INTERNAL', 'UNKNOWN'].map(callLevel)).toEqual(['error', 'error']);
    expect(['NOT_FOUND', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'].map(callLevel)).toEqual([
      'warn',
      'warn',
      'warn',
      'warn',
    ]);
  });

  it('records and logs a call two models answered (a Batch) under no answering model, one model answered under that model', () => {
    const { log, lines } = capture();
    const calls: FinishedCall[] = [];
    const observer = { recordCall: (c: FinishedCall) => void calls.push(c) };
    const ending = (models: string[]) => {
      const summary = new CallSummary(recordingTrace([]));
      for (const model of models) summary.requestStarted({ model, provider: 'openai', retry: 0 }).ended(attemptRecord({ model }));
      return {
        protocol: 'grpc' as const,
        path: '/orchestrator.v1.ChatService/Batch',
        method: '/orchestrator.v1.ChatService/Batch',
        kind: 'server_stream' as const,
        requestId: 'r2',
        startedAt: 0,
        summary,
        code: 0,
        codeName: 'OK',
        level: 'info' as const,
        peer: () => '127.0.0.1:1',
      };
    };
    endCall(log, observer, ending(['gpt-4o', 'gpt-4o-mini']));
    endCall(log, observer, ending(['gpt-4o-mini', 'gpt-4o-mini']));
    expect(calls.map((c) => [c.upstreamRequests, c.model])).toEqual([
      [2, undefined],
      [2, 'gpt-4o-mini'],
    ]);
    // The line's tokens and cost are the whole Batch's: naming one of its models would charge them all to it.
    expect(lines.map((l) => [l.attempts, l.model, l.provider])).toEqual([
      [2, undefined, undefined],
      [2, 'gpt-4o-mini', 'openai'],
    ]);
  });
});
