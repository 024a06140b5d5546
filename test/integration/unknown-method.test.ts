import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../helpers/eventually.js';
import { captureLines } from '../helpers/log-lines.js';

/** A call to a method the server does not serve: a stub of another package, a typo, a removed method. */
const { lines, sink } = captureLines();

let app: App;
let upstream: Simulator;
let client: grpc.Client;
beforeAll(async () => {
  upstream = await startSimulator({ latencyScale: 0 });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    METRICS_PORT: '0',
    HTTP_PORT: '0',
  });
  app = await startApp(config, createLogger('info', sink), {});
  client = new grpc.Client(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
});
afterAll(async () => {
  client.close();
  await app.stop(100);
  await upstream.close();
});

const raw = (b: Buffer): Buffer => b;

function callPath(path: string, metadata = new grpc.Metadata()): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    const call = client.makeUnaryRequest(path, raw, raw, Buffer.alloc(0), metadata, () => undefined);
    call.on('status', resolve);
  });
}

describe('a call to a method the server does not serve', () => {
  it.each(['/orchestrator.v1.Nope/Foo', '/llm.v1.ChatService/Chat', '/orchestrator.v1.ChatService/Nope'])(
    '%s is UNIMPLEMENTED with the request id in its trailers and a call line',
    async (path) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-request-id', `unknown-${path.length}`);
      const status = await callPath(path, metadata);
      expect(status.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(status.metadata.get('x-request-id')).toEqual([`unknown-${path.length}`]);
      const line = await eventually(
        () => Promise.resolve(lines.find((l) => l.msg === 'call' && l.method === path)),
        (found) => found !== undefined,
      );
      expect(line).toMatchObject({ protocol: 'grpc', code: 'UNIMPLEMENTED', requestId: `unknown-${path.length}`, level: 'warn' });
      expect(String(line?.peer)).toContain('127.0.0.1');
      expect(typeof line?.durationMs).toBe('number');
    },
  );

  it('gets a fresh request id when it sent none or an unacceptable one', async () => {
    const bad = new grpc.Metadata();
    bad.set('x-request-id', 'has spaces');
    for (const metadata of [new grpc.Metadata(), bad]) {
      const status = await callPath('/orchestrator.v1.Nope/Bar', metadata);
      expect(status.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(status.metadata.get('x-request-id')[0]).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('is not a method of the metrics: a caller cannot fill the label with paths of its own', async () => {
    await callPath('/orchestrator.v1.Nope/Metric');
    const text = await (await fetch(`${app.metricsServer?.url}/metrics`)).text();
    expect(text).not.toContain('Nope');
  });
});
