import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { ended, startMain } from '../helpers/main-process.js';
import { makeCertificates } from '../helpers/tls.js';

/** An OpenAI-compatible upstream over HTTPS whose certificate a private CA signed. */
describe('an upstream whose TLS certificate the gateway does not trust', () => {
  const certs = makeCertificates();
  let upstream: Server;
  let hits = 0;
  let h: Harness;

  beforeAll(async () => {
    upstream = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => {
      hits += 1;
      req.resume();
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    h = await startHarness({ env: { OPENAI_BASE_URL: `https://localhost:${port}/v1`, RETRY_MAX_ATTEMPTS: '3' } });
  });
  afterAll(async () => {
    await h?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('fails once, naming the certificate, instead of being retried as a connection that could not be made', async () => {
    const response = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await response.json()) as { error: { message: string; reason: string; attempts: unknown[] } };
    expect(response.status).toBe(502);
    expect(response.headers.get('x-should-retry')).toBe('false');
    expect(body.error.reason).toBe('UPSTREAM_UNREACHABLE');
    expect(body.error.message).toBe(
      "openai's TLS certificate was refused (UNABLE_TO_VERIFY_LEAF_SIGNATURE); for a private CA, set NODE_EXTRA_CA_CERTS to its PEM file",
    );
    expect(body.error.attempts).toHaveLength(1);
    expect(hits).toBe(0);
  });

  it('is trusted with NODE_EXTRA_CA_CERTS naming the CA, as the message says', { timeout: 30_000 }, async () => {
    const port = (upstream.address() as AddressInfo).port;
    const main = await startMain({
      NODE_EXTRA_CA_CERTS: certs.ca,
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: `https://localhost:${port}/v1`,
      RETRY_MAX_ATTEMPTS: '1',
    });
    try {
      const response = await fetch(`http://127.0.0.1:${String(main.listening.httpPort)}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      // The upstream's own 500: the connection was made.
      expect(((await response.json()) as { error: { reason: string } }).error.reason).toBe('UPSTREAM_ERROR');
      expect(hits).toBe(1);
    } finally {
      main.child.kill('SIGTERM');
      await ended(main.child);
    }
  });
});
