import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Clients that open a request and never finish it: a body trickled or stopped half way holds a
 * connection, its buffers and a file descriptor. Each is cut once HTTP_REQUEST_TIMEOUT_MS has
 * passed since the request began, with a 408, as gRPC's GRPC_REQUEST_MESSAGE_TIMEOUT_MS ends a
 * call whose message does not come.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_MAX_CONNECTIONS: '3' } });
});
afterAll(async () => h?.close());

function open(): Promise<Socket> {
  const { port } = new URL(h.app.http!.url);
  const socket = connect(Number(port), '127.0.0.1');
  return once(socket, 'connect').then(() => socket);
}

async function answerOf(socket: Socket, withinMs: number): Promise<{ text: string; closed: boolean }> {
  let text = '';
  socket.on('data', (b: Buffer) => (text += b.toString()));
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), withinMs)),
  ]);
  socket.destroy();
  return { text, closed };
}

describe('an HTTP request that never finishes arriving', () => {
  it('is answered 408 and its connection closed once HTTP_REQUEST_TIMEOUT_MS has passed', async () => {
    const socket = await open();
    socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"model":',
    );
    const started = Date.now();
    const { text, closed } = await answerOf(socket, 10_000);
    expect(closed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // In the OpenAI shape, as every other error of the HTTP door.
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'request_timeout', reason: 'DEADLINE_EXCEEDED' });
    expect(body.error.message).toMatch(/HTTP_REQUEST_TIMEOUT_MS/);
  }, 20_000);

  it('with its headers trickled a byte at a time is cut the same way', async () => {
    const socket = await open();
    const head = 'GET /v1/models HTTP/1.1\r\nHost: gateway\r\nX-Slow: ';
    socket.write(head);
    const drip = setInterval(() => socket.writable && socket.write('a'), 100);
    try {
      const { closed } = await answerOf(socket, 10_000);
      expect(closed).toBe(true);
    } finally {
      clearInterval(drip);
    }
  }, 20_000);

  it('leaves a request that arrives in time alone, however long its answer takes to stream', async () => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'Tell me a long story' }],
        max_tokens: 60,
      }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  }, 20_000);
});

describe('HTTP_MAX_CONNECTIONS', () => {
  // Each open connection costs a file descriptor and buffers: a client opening them without
  // end would run the process out of descriptors for every other caller and upstream.
  it('closes a connection past the cap as soon as it is accepted, and takes new ones once others close', async () => {
    const held = await Promise.all([open(), open(), open()]);
    const fourth = await open();
    const { closed, text } = await answerOf(fourth, 5_000);
    expect(closed).toBe(true);
    expect(text).toBe('');
    held[0]?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const res = await fetch(`${h.app.http!.url}/v1/models`);
    expect(res.status).toBe(200);
    for (const s of held) s.destroy();
  }, 20_000);
});
