import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { clientsFor, collectStream, streamRequest, type Clients } from '../helpers/grpc-client.js';

/**
 * An upstream that streams one endless SSE line: StreamChat fails with UNAVAILABLE /
 * UPSTREAM_MALFORMED_RESPONSE once the event passes UPSTREAM_MAX_EVENT_BYTES, the upstream
 * connection is closed, and health checks answered meanwhile are not delayed.
 */
const PIECE = 64 * 1024;
let upstream: http.Server;
let written = 0;
let cut = false;
let app: App;
let clients: Clients;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.on('close', () => {
        cut = !res.writableFinished;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"');
      const more = (): void => {
        // 64 MiB in all, unless the gateway hangs up first.
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += PIECE;
          if (!res.write('y'.repeat(PIECE))) {
            res.once('drain', more);
            return;
          }
        }
        if (!res.destroyed) res.end('"}}]}\n\n');
      };
      more();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
    SIMULATOR: 'off',
    METRICS: 'off',
    RETRY_MAX_ATTEMPTS: '1',
    UPSTREAM_MAX_EVENT_BYTES: String(2 * 1024 * 1024),
  });
  app = await startApp(config, pino({ level: 'silent' }), {});
  clients = clientsFor(app.port);
});

afterAll(async () => {
  clients.close();
  await app.stop(200);
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

function check(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) =>
    clients.health.check({ service: '' }, (err) => (err ? reject(err) : resolve(performance.now() - started))),
  );
}

describe('an upstream that sends one multi-megabyte SSE line', () => {
  it('fails the stream at UPSTREAM_MAX_EVENT_BYTES, closes the connection, and does not delay health checks', async () => {
    await check(); // the health client's connection is up before timing starts
    const result = collectStream(clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'hi' })));
    let finished = false;
    void result.finally(() => {
      finished = true;
    });
    const latencies: number[] = [];
    while (!finished) latencies.push(await check());
    const { error } = await result;
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('UPSTREAM_MALFORMED_RESPONSE');
    expect(error?.details).toMatch(/UPSTREAM_MAX_EVENT_BYTES/);
    for (let i = 0; i < 100 && !cut; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cut).toBe(true);
    expect(written).toBeLessThan(32 * 1024 * 1024);
    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(250);
  });
});
