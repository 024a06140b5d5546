import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Request metadata (the call's HTTP/2 header list) is bounded at the HTTP/2 layer, as gRPC C-core
 * bounds it: over GRPC_MAX_METADATA_BYTES the stream is reset before grpc-js reads it, which
 * clients report as RESOURCE_EXHAUSTED, and the connection's other calls go on.
 */
async function check(h: Harness, metadata: Record<string, string>): Promise<{ code: string; ms: number }> {
  const started = performance.now();
  try {
    await callUnary(h.clients.health.check.bind(h.clients.health), { service: '' }, { metadata, deadlineMs: 10_000 });
    return { code: 'OK', ms: performance.now() - started };
  } catch (err) {
    return { code: grpc.status[(err as grpc.ServiceError).code] ?? 'UNKNOWN', ms: performance.now() - started };
  }
}

describe('request metadata size', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('takes metadata just under 16 KiB in all', async () => {
    expect((await check(h, { 'x-large': 'a'.repeat(15_000) })).code).toBe('OK');
  });

  it('refuses a value past 16 KiB at once with RESOURCE_EXHAUSTED; the same connection serves on', async () => {
    const watch = h.clients.stats.watchStats({ intervalMs: 100 });
    let updates = 0;
    let watchError: grpc.ServiceError | undefined;
    watch.on('data', () => updates++);
    watch.on('error', (err: grpc.ServiceError) => (watchError = err));
    await new Promise((resolve) => setTimeout(resolve, 250));

    const refused = await check(h, { 'x-large': 'a'.repeat(20_000) });
    expect(refused.code).toBe('RESOURCE_EXHAUSTED');
    expect(refused.ms).toBeLessThan(1_000);
    // Many values, each small, count together.
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-part-${i}`, 'a'.repeat(1_000)]));
    expect((await check(h, many)).code).toBe('RESOURCE_EXHAUSTED');

    const before = updates;
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(watchError).toBeUndefined();
    expect(updates).toBeGreaterThan(before);
    expect((await check(h, {})).code).toBe('OK');
    watch.cancel();
  });
});

/** A call sent at once on a new connection, before the client has read the server's settings. */
function firstCall(port: number, metadata: Record<string, string>): Promise<Record<string, unknown>> {
  const session = connect(`http://127.0.0.1:${port}`);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/grpc.health.v1.Health/Check',
    'content-type': 'application/grpc',
    te: 'trailers',
    ...metadata,
  });
  stream.end(Buffer.alloc(5));
  stream.resume();
  return new Promise((resolve, reject) => {
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (trailers) => resolve({ ...headers, ...trailers }));
    stream.on('end', () => resolve(headers));
    stream.on('error', reject);
  }).finally(() => session.close()) as Promise<Record<string, unknown>>;
}

describe('request metadata size, before the client has acknowledged the settings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('is refused by the gateway with RESOURCE_EXHAUSTED naming the setting', async () => {
    const answer = await firstCall(h.app.port, { 'x-large': 'a'.repeat(20_000) });
    expect(answer['grpc-status']).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    expect(decodeURIComponent(String(answer['grpc-message']))).toMatch(
      /^request metadata is \d+ bytes, over the 16384-byte limit \(GRPC_MAX_METADATA_BYTES\)$/,
    );
    expect((await firstCall(h.app.port, { 'x-small': 'a'.repeat(1_000) }))['grpc-status']).toBe('0');
  });
});

describe('GRPC_MAX_METADATA_BYTES', () => {
  it('sets the bound', async () => {
    const h = await startHarness({ env: { GRPC_MAX_METADATA_BYTES: '32768' } });
    try {
      expect((await check(h, { 'x-large': 'a'.repeat(20_000) })).code).toBe('OK');
      expect((await check(h, { 'x-large': 'a'.repeat(40_000) })).code).toBe('RESOURCE_EXHAUSTED');
    } finally {
      await h.close();
    }
  });
});
