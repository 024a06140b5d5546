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
