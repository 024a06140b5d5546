import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { accessFile } from '../helpers/access-file.js';
import { callUnary, clientsFor, unaryError, type Clients } from '../helpers/grpc-client.js';

/**
 * The server's real log output, at debug, for calls accepted and refused with keys in both
 * forms: no key, the caller's or the upstream's, appears anywhere in it.
 */
const UPSTREAM_KEY = 'sk-upstream-do-not-log-42';
const text: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    text.push(chunk.toString());
    done();
  },
});

let app: App;
let upstream: Simulator;
let clients: Clients;
beforeAll(async () => {
  upstream = await startSimulator({ latencyScale: 0, apiKey: UPSTREAM_KEY });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    OPENAI_API_KEY: UPSTREAM_KEY,
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    RETRY_MAX_ATTEMPTS: '1',
    METRICS_PORT: '0',
    HTTP_PORT: '0',
    CONFIG_FILE: accessFile(),
  });
  app = await startApp(config, createLogger('debug', sink), {});
  clients = clientsFor(app.port);
});
afterAll(async () => {
  clients.close();
  await app.stop(100);
  await upstream.close();
});

const chat = () => clients.chat.chat.bind(clients.chat);
const request = (model = 'gpt-4o-mini') => ({ model, prompt: 'log me', messages: [] });

describe('log redaction', () => {
  it('writes no API key for accepted and refused calls, in either header form', async () => {
    const forms = (key: string): Record<string, string>[] => [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }];
    for (const metadata of forms('erin-secret')) await callUnary(chat(), request(), { metadata });
    for (const metadata of forms('alice-secret')) await unaryError(chat(), request('gpt-4o'), { metadata });
    for (const metadata of forms('carol-secret')) await callUnary(chat(), request(), { metadata }).catch(() => undefined);
    for (const metadata of forms('carol-secret')) await unaryError(chat(), request(), { metadata });
    for (const metadata of forms('mallory-unknown-secret')) await unaryError(chat(), request(), { metadata });
    upstream.injectFault({ kind: 'http_error', status: 401 });
    for (const metadata of forms('erin-secret')) await unaryError(chat(), request(), { metadata });
    upstream.clearFaults();
    await new Promise((r) => setTimeout(r, 50));

    const output = text.join('');
    const calls = output.split('\n').filter((line) => line.includes('"msg":"call"'));
    // accepted, PERMISSION_DENIED, budget, UNAUTHENTICATED and upstream failures: all logged.
    expect(calls.length).toBeGreaterThanOrEqual(12);
    for (const code of ['"OK"', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'UNAUTHENTICATED']) expect(output).toContain(code);
    for (const secret of ['erin-secret', 'alice-secret', 'carol-secret', 'mallory-unknown-secret', UPSTREAM_KEY]) {
      expect(output).not.toContain(secret);
    }
  });
});
