import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { HealthClient } from '../../src/gen/grpc/health/v1/health.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { makeCertificates } from '../helpers/tls.js';

const certs = makeCertificates();
const options = { 'grpc.use_local_subchannel_pool': 1 };

function check(client: HealthClient): Promise<grpc.status> {
  return new Promise((resolve) =>
    client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 3_000 }, (err) => resolve(err ? err.code : grpc.status.OK)),
  );
}

async function serve(upstream: Simulator, env: Record<string, string>): Promise<App> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    TLS_CERT_FILE: certs.serverCert,
    TLS_KEY_FILE: certs.serverKey,
    METRICS_PORT: '0',
    HTTP_PORT: '0',
    ...env,
  });
  return startApp(config, pino({ level: 'silent' }), {});
}

describe('TLS and mTLS', () => {
  let upstream: Simulator;
  let tls: App;
  let mtls: App;
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

  const ca = readFileSync(certs.ca);

  it('serves TLS to clients that trust the CA and refuses plaintext', async () => {
    const secure = new HealthClient(`localhost:${tls.port}`, grpc.credentials.createSsl(ca), options);
    expect(await check(secure)).toBe(grpc.status.OK);
    const plain = new HealthClient(`127.0.0.1:${tls.port}`, grpc.credentials.createInsecure(), options);
    expect(await check(plain)).toBe(grpc.status.UNAVAILABLE);
    secure.close();
    plain.close();
  });

  it('with a client CA, requires a client certificate it signed', async () => {
    const anonymous = new HealthClient(`localhost:${mtls.port}`, grpc.credentials.createSsl(ca), options);
    expect(await check(anonymous)).toBe(grpc.status.UNAVAILABLE);
    const withCert = new HealthClient(
      `localhost:${mtls.port}`,
      grpc.credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert)),
      options,
    );
    expect(await check(withCert)).toBe(grpc.status.OK);
    anonymous.close();
    withCert.close();
  });

  it('refuses half a TLS configuration at start-up', () => {
    expect(() => loadConfig({ TLS_CERT_FILE: certs.serverCert })).toThrow(/set both/);
    expect(() => loadConfig({ TLS_CLIENT_CA_FILE: certs.ca })).toThrow(/mTLS needs/);
  });
});

describe('a stop with TLS', () => {
  it('closes a connection that never began or never finished its handshake at once, not at the force-close', async () => {
    const upstream = await startSimulator({ latencyScale: 0 });
    const app = await serve(upstream, { DRAIN_DELAY_MS: '0', HTTP_ENABLED: 'false' });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 2; i += 1) {
        const socket = connect(app.port, '127.0.0.1');
        sockets.push(socket);
        await once(socket, 'connect');
      }
      // The first bytes of a ClientHello's record header, and no more.
      sockets[1]!.write(Buffer.from([0x16, 0x03, 0x01]));
      await new Promise((r) => setTimeout(r, 50));
      const closed = Promise.all(sockets.map((s) => once(s, 'close')));
      const started = performance.now();
      await app.server.shutdown(100, 0);
      // The force-close comes 2 s after the close begins.
      expect(performance.now() - started).toBeLessThan(1_500);
      await closed;
    } finally {
      for (const s of sockets) s.destroy();
      await app.stop(100);
      await upstream.close();
    }
  });
});
