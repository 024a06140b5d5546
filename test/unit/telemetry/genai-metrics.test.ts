import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deadlineExceeded } from '../../../src/domain/errors.js';
import { GenAiMetrics } from '../../../src/telemetry/genai-metrics.js';
import { attemptRecord } from '../../helpers/attempt-record.js';

/** What one OTLP/HTTP JSON metrics export carries, as far as these checks read it. */
interface OtlpPoint {
  attributes?: { key: string; value: Record<string, unknown> }[];
  count: number | string;
  sum?: number;
}
interface OtlpExport {
  resourceMetrics?: { scopeMetrics?: { metrics?: { name: string; histogram?: { dataPoints?: OtlpPoint[] } }[] }[] }[];
}

const bodies: string[] = [];
const collector = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/v1/metrics') bodies.push(Buffer.concat(chunks).toString());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
afterEach(async () => {
  bodies.length = 0;
  await new Promise<void>((resolve) => collector.close(() => resolve()));
});

/** Each point of a metric, by its attributes (key=value pairs, sorted). */
function points(name: string): Map<string, OtlpPoint> {
  const all = bodies
    .flatMap((b) => (JSON.parse(b) as OtlpExport).resourceMetrics ?? [])
    .flatMap((r) => r.scopeMetrics ?? [])
    .flatMap((s) => s.metrics ?? [])
    .filter((m) => m.name === name)
    .flatMap((m) => m.histogram?.dataPoints ?? []);
  const key = (p: OtlpPoint): string =>
    (p.attributes ?? [])
      .map((a) => `${a.key}=${String(Object.values(a.value)[0])}`)
      .sort()
      .join(',');
  return new Map(all.map((p) => [key(p), p]));
}

describe('GenAiMetrics', () => {
  it('measures durations in seconds, failures under error.type, and leaves out models skipped without a request', async () => {
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const metrics = new GenAiMetrics({
      otlpEndpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      serviceName: 'genai-metrics-test',
    });
    const base = { model: 'claude-sonnet', provider: 'anthropic' };
    metrics.on({ type: 'attempt', record: attemptRecord({ ...base, latencyMs: 250 }) });
    metrics.on({
      type: 'attempt',
      record: attemptRecord({
        ...base,
        outcome: 'timeout',
        error: deadlineExceeded(),
        latencyMs: 1_500,
        usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 },
      }),
    });
    // An open breaker: no request went out, so there is no operation and no duration.
    metrics.on({ type: 'attempt', record: attemptRecord({ ...base, outcome: 'skipped', latencyMs: 0 }) });
    await metrics.shutdown();

    const common = 'gen_ai.operation.name=chat,gen_ai.provider.name=anthropic,gen_ai.request.model=claude-sonnet';
    const durations = points('gen_ai.client.operation.duration');
    expect([...durations.keys()].sort()).toEqual([
      `error.type=DEADLINE_EXCEEDED,${common}`,
      `${common},gen_ai.response.model=claude-sonnet`,
    ]);
    const answered = durations.get(`${common},gen_ai.response.model=claude-sonnet`);
    expect(Number(answered?.count)).toBe(1);
    expect(answered?.sum).toBeCloseTo(0.25, 6);
    const failed = durations.get(`error.type=DEADLINE_EXCEEDED,${common}`);
    expect(Number(failed?.count)).toBe(1);
    expect(failed?.sum).toBeCloseTo(1.5, 6);

    const tokens = points('gen_ai.client.token.usage');
    const input = tokens.get(`${common},gen_ai.response.model=claude-sonnet,gen_ai.token.type=input`);
    const output = tokens.get(`${common},gen_ai.response.model=claude-sonnet,gen_ai.token.type=output`);
    expect([tokens.size, Number(input?.count), input?.sum, Number(output?.count), output?.sum]).toEqual([2, 1, 10, 1, 20]);
  });
});
