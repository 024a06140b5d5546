import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { makeCertificates } from '../helpers/tls.js';

const certs = makeCertificates();

async function serve(upstream: Simulator, env: Record<string, string>): Promise<App> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    HTTP_PORT: '0',
    METRICS_PORT: '0',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    TLS_CERT_FILE: certs.serverCert,
    TLS_KEY_FILE: certs.serverKey,
    ...env,
  });
  return startApp(config, pino({ level: 'silent' }), {});
}

function sdk(app: App, connect: { ca: Buffer; cert?: Buffer; key?: Buffer }): OpenAI {
  const dispatcher = new Agent({ connect });
  return new OpenAI({
    baseURL: `${app.http!.url}/v1`,
    apiKey: 'unused',
    maxRetries: 0,
    fetch: ((url: string, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher })) as unknown as typeof fetch,
  });
}

describe('HTTPS with the gRPC certificate settings', () => {
  let upstream: Simulator;
  let tls: App;
  let mtls: App;
  const ca = readFileSync(certs.ca);
  beforeAll(async () => {
    upstream = await startSimulator({ latencyScale: 0 });
    tls = await serve(upstream, {});
    mtls = await serve(upstream, { TLS_CLIENT_CA_FILE: certs.ca });
  });
  afterAll(async () => {
    await tls.stop(100);
    await mtls.stop(100);
    await upstream.close();
  });

  it('serves the OpenAI API over TLS with TLS_CERT_FILE/TLS_KEY_FILE', async () => {
    expect(tls.http?.url.startsWith('https://')).toBe(true);
    const answer = await sdk(tls, { ca }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.model).toBe('gpt-4o-mini');
  });

  it('answers GET /health over TLS to a client that verifies nothing and presents no certificate, as a kubelet HTTPS probe', async () => {
    const probe = new Agent({ connect: { rejectUnauthorized: false } });
    const health = await undiciFetch(`${tls.http!.url}/health`, { dispatcher: probe });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'serving' });
    // With TLS_CLIENT_CA_FILE the port wants a client certificate, which such a probe lacks.
    const refused = await undiciFetch(`${mtls.http!.url}/health`, { dispatcher: probe }).then(
      () => 'answered',
      () => 'refused',
    );
    expect(refused).toBe('refused');
    await probe.close();
  });

  it('requires a client certificate signed by TLS_CLIENT_CA_FILE', async () => {
    const refused = await sdk(mtls, { ca })
      .models.list()
      .then(
        () => 'ok',
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(OpenAI.APIConnectionError);
    const list = await sdk(mtls, { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }).models.list();
    expect(list.data.length).toBeGreaterThan(0);
  });
});
