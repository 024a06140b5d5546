import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { startMetricsServer, type MetricsServer } from '../../../src/telemetry/metrics-server.js';

const source = { exposition: async () => ({ contentType: 'text/plain', body: 'up 1\n' }) };

let blocker: Server | undefined;
let metrics: MetricsServer | undefined;
afterEach(async () => {
  await metrics?.close();
  metrics = undefined;
  await new Promise<void>((done) => (blocker ? blocker.close(() => done()) : done()));
  blocker = undefined;
});

describe('the metrics endpoint', () => {
  it('names METRICS_PORT when its port is taken', async () => {
    blocker = createServer();
    await new Promise<void>((done) => blocker?.listen(0, '127.0.0.1', done));
    const { port } = blocker.address() as AddressInfo;
    const started = startMetricsServer(source, { host: '127.0.0.1', port });
    await expect(started).rejects.toThrow(`metrics port 127.0.0.1:${port} is already in use (EADDRINUSE): set METRICS_PORT`);
  });

  it('listens where METRICS_HOST says and serves /metrics there', async () => {
    metrics = await startMetricsServer(source, { host: '127.0.0.1', port: 0 });
    expect(metrics.url).toBe(`http://127.0.0.1:${metrics.port}/metrics`);
    const res = await fetch(metrics.url);
    expect(await res.text()).toBe('up 1\n');
  });

  it('answers a scrape as Prometheus sends it: query parameters, HEAD, the content type the registry gives, never cached', async () => {
    const contentType = 'text/plain; version=0.0.4; charset=utf-8';
    metrics = await startMetricsServer({ exposition: async () => ({ contentType, body: 'up 1\n' }) }, { host: '127.0.0.1', port: 0 });
    // A scrape job's `params:` reach the target as a query string.
    const res = await fetch(`${metrics.url}?module=default&x=1`);
    expect([res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([200, contentType, 'no-store']);
    expect(await res.text()).toBe('up 1\n');
    const head = await fetch(metrics.url, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([200, contentType, '']);
    const post = await fetch(metrics.url, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await fetch(metrics.url.replace('/metrics', '/metric'))).status).toBe(404);
  });

  it('answers 500 when the metrics cannot be collected, and goes on serving', async () => {
    let fail = true;
    const flaky = {
      exposition: async () => {
        if (fail) throw new Error('a collect callback threw');
        return { contentType: 'text/plain', body: 'up 1\n' };
      },
    };
    metrics = await startMetricsServer(flaky, { host: '127.0.0.1', port: 0 });
    const res = await fetch(metrics.url);
    expect([res.status, await res.text()]).toEqual([500, 'metrics collection failed\n']);
    fail = false;
    expect((await fetch(metrics.url)).status).toBe(200);
  });
});

describe('METRICS_HOST', () => {
  it('defaults to HOST, so a loopback gateway keeps its metrics on loopback', () => {
    expect(loadConfig({ HOST: '127.0.0.1' }).metrics.host).toBe('127.0.0.1');
    expect(loadConfig({}).metrics.host).toBe(loadConfig({}).host);
  });

  it('can still publish the metrics elsewhere than the gRPC port', () => {
    expect(loadConfig({ HOST: '127.0.0.1', METRICS_HOST: '0.0.0.0' }).metrics.host).toBe('0.0.0.0');
  });
});
