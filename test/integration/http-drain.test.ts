import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeCertificates } from '../helpers/tls.js';

/** The force-close comes 2 s after the close begins; a stop that waited for it took that long. */
const PROMPT_MS = 1_500;

let h: Harness | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
  h = undefined;
});

async function rawConnection(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  await once(socket, 'connect');
  return socket;
}

/** Resolves with the time a stop took once no call is left in flight. */
async function timedStop(harness: Harness): Promise<number> {
  const started = performance.now();
  await harness.app.http!.gateway.shutdown(100, 0);
  return performance.now() - started;
}

it('a stop closes a kept-alive connection that never sent a request, and one that finished its request, at once', async () => {
  h = await startHarness({ env: { DRAIN_DELAY_MS: '0' } });
  const base = h.app.http!.url;
  const idle = await rawConnection(base);
  const used = await rawConnection(base);
  used.write('GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive\r\n\r\n');
  await once(used, 'data');
  const closed = Promise.all([once(idle, 'close'), once(used, 'close')]);
  expect(await timedStop(h)).toBeLessThan(PROMPT_MS);
  await closed;
});

it('a stop closes a kept-alive connection once the request still arriving when the close began is answered', async () => {
  h = await startHarness({ env: { DRAIN_DELAY_MS: '0' } });
  const socket = await rawConnection(h.app.http!.url);
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  );
  const answered = once(socket, 'data');
  // The request's head is read before the close begins, its body after.
  await new Promise((r) => setTimeout(r, 100));
  const stop = timedStop(h);
  await new Promise((r) => setTimeout(r, 200));
  socket.write(body.slice(10));
  const [head] = (await answered) as [Buffer];
  expect(head.toString()).toMatch(/^HTTP\/1\.1 503/);
  expect(await stop).toBeLessThan(PROMPT_MS);
});

it('over TLS too: a connection that finished its handshake but sent no request is closed at once', async () => {
  const certs = makeCertificates();
  h = await startHarness({ env: { DRAIN_DELAY_MS: '0', TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey } });
  const { hostname, port } = new URL(h.app.http!.url);
  const socket = connectTls({ host: hostname, port: Number(port), rejectUnauthorized: false });
  sockets.push(socket);
  await once(socket, 'secureConnect');
  // TLS 1.3: the client is done with the handshake a moment before the server is.
  await new Promise((r) => setTimeout(r, 100));
  const closed = once(socket, 'close');
  expect(await timedStop(h)).toBeLessThan(PROMPT_MS);
  await closed;
});

it('over TLS, a connection that never began or never finished its handshake is closed at once, not left to hold the stop', async () => {
  const certs = makeCertificates();
  h = await startHarness({ env: { DRAIN_DELAY_MS: '0', TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey } });
  const silent = await rawConnection(h.app.http!.url);
  const halfway = await rawConnection(h.app.http!.url);
  // The first bytes of a ClientHello's record header, and no more.
  halfway.write(Buffer.from([0x16, 0x03, 0x01]));
  await new Promise((r) => setTimeout(r, 50));
  const closed = Promise.all([once(silent, 'close'), once(halfway, 'close')]);
  expect(await timedStop(h)).toBeLessThan(PROMPT_MS);
  await closed;
});

it('while draining, an answer on a kept-alive connection says Connection: close and closes it, so the client retries on a new one', async () => {
  h = await startHarness({ env: { DRAIN_DELAY_MS: '0', SHUTDOWN_GRACE_MS: '10000' } });
  const base = h.app.http!.url;
  const socket = await rawConnection(base);
  socket.write('GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive\r\n\r\n');
  await once(socket, 'data');
  // A call still running holds the drain in its grace period.
  h.upstream.injectFault({ kind: 'delay', delayMs: 3_000, times: 1 });
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const running = fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await new Promise((r) => setTimeout(r, 200));
  const stopping = h.app.http!.gateway.shutdown(10_000, 0);
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  const [head] = (await once(socket, 'data')) as [Buffer];
  expect(head.toString()).toMatch(/^HTTP\/1\.1 503/);
  expect(head.toString()).toMatch(/\r\nconnection: close\r\n/i);
  const started = performance.now();
  await once(socket, 'close');
  expect(performance.now() - started).toBeLessThan(PROMPT_MS);
  expect((await running).status).toBe(200);
  await stopping;
});
