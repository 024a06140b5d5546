import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeCertificates } from '../helpers/tls.js';

/** deploy/healthcheck.mjs, the image's HEALTHCHECK, against a real server. */
const run = promisify(execFile);

/** `env`: the container's environment, which the HEALTHCHECK shares with the server; `target` '': none given. */
async function healthcheck(target: string, env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['deploy/healthcheck.mjs', ...(target ? [target] : [])], {
      timeout: 10_000,
      env: { ...process.env, ...env },
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stderr: e.stderr ?? '' };
  }
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe('deploy/healthcheck.mjs', () => {
  it('exits 0 while the server is SERVING, 1 once it says NOT_SERVING (a drain)', async () => {
    const target = `127.0.0.1:${h.app.port}`;
    expect(await healthcheck(target)).toEqual({ code: 0, stderr: '' });
    h.app.server.health.setAll('NOT_SERVING');
    expect(await healthcheck(target)).toEqual({ code: 1, stderr: 'unhealthy: not SERVING\n' });
    h.app.server.health.setAll('SERVING');
  });

  it('reads the environment as the server does: blank TLS settings are unset, values are trimmed', async () => {
    // A blank value is how a compose file or a ConfigMap leaves a setting out; the server then serves plaintext.
    expect(await healthcheck(`127.0.0.1:${h.app.port}`, { TLS_CERT_FILE: ' ', TLS_KEY_FILE: ' ', TLS_CLIENT_CA_FILE: '\n' })).toEqual({
      code: 0,
      stderr: '',
    });
    expect(await healthcheck('', { PORT: ` ${h.app.port}\n` })).toEqual({ code: 0, stderr: '' });
  });

  it('exits 1 naming the failure when nothing listens', async () => {
    const result = await healthcheck('127.0.0.1:1');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^unhealthy: /);
  });
});

describe('deploy/healthcheck.mjs with the TLS settings the server uses', () => {
  const certs = makeCertificates();
  const tls = { TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey };
  const mtls = { ...tls, TLS_CLIENT_CA_FILE: certs.ca };
  let tlsServer: Harness;
  let mtlsServer: Harness;
  beforeAll(async () => {
    tlsServer = await startHarness({ env: tls });
    mtlsServer = await startHarness({ env: mtls });
  });
  afterAll(async () => {
    await tlsServer?.close();
    await mtlsServer?.close();
  });

  it('checks a server that serves TLS (TLS_CERT_FILE/TLS_KEY_FILE) over TLS', async () => {
    expect(await healthcheck(`127.0.0.1:${tlsServer.app.port}`, tls)).toEqual({ code: 0, stderr: '' });
    tlsServer.app.server.health.setAll('NOT_SERVING');
    expect(await healthcheck(`127.0.0.1:${tlsServer.app.port}`, tls)).toEqual({ code: 1, stderr: 'unhealthy: not SERVING\n' });
    tlsServer.app.server.health.setAll('SERVING');
  });

  it('reads the TLS file paths trimmed, and a blank HEALTHCHECK_CERT_FILE/HEALTHCHECK_KEY_FILE as unset', async () => {
    const padded = { TLS_CERT_FILE: ` ${certs.serverCert}\n`, TLS_KEY_FILE: ` ${certs.serverKey}\n` };
    expect(await healthcheck(`127.0.0.1:${tlsServer.app.port}`, padded)).toEqual({ code: 0, stderr: '' });
    const blankClient = { HEALTHCHECK_CERT_FILE: ' ', HEALTHCHECK_KEY_FILE: ' ' };
    const result = await healthcheck(`127.0.0.1:${mtlsServer.app.port}`, { ...mtls, ...blankClient });
    // The server's own pair is no client certificate: refused by the server, not a crash on a path of ' '.
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^unhealthy: /);
  });

  it('checks a server that requires client certificates (TLS_CLIENT_CA_FILE) with HEALTHCHECK_CERT_FILE/HEALTHCHECK_KEY_FILE', async () => {
    const target = `127.0.0.1:${mtlsServer.app.port}`;
    const client = { HEALTHCHECK_CERT_FILE: certs.clientCert, HEALTHCHECK_KEY_FILE: certs.clientKey };
    expect(await healthcheck(target, { ...mtls, ...client })).toEqual({ code: 0, stderr: '' });
    const without = await healthcheck(target, mtls);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/^unhealthy: /);
  });
});
