import { readFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const TOKENS = 60_000;

let h: Harness;
beforeAll(async () => {
  // Far more tokens than every buffer between the simulator and the client can hold.
  h = await startHarness({ answerLength: { min: TOKENS, max: TOKENS } });
});
afterAll(async () => h.close());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sent = (): number => h.upstream.requests.at(-1)?.tokensSent ?? 0;

/** Waits until the upstream's tokensSent has not moved for 4 checks 200 ms apart. */
async function untilUpstreamStalls(): Promise<number> {
  let last = -1;
  let unchanged = 0;
  for (let waited = 0; waited < 8_000 && unchanged < 4; waited += 200) {
    const now = sent();
    unchanged = now === last ? unchanged + 1 : 0;
    last = now;
    await sleep(200);
  }
  return sent();
}

describe('SSE backpressure', () => {
  it('stops reading the upstream while the HTTP client does not read, and loses nothing', async () => {
    const url = new URL(`${h.app.http!.url}/v1/chat/completions`);
    const body = JSON.stringify({
      model: 'o3',
      messages: [{ role: 'user', content: 'write a long essay' }],
      max_tokens: TOKENS,
      stream: true,
    });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    expect(res.statusCode).toBe(200);
    let raw = '';
    res.setEncoding('utf8');
    const ended = new Promise<void>((resolve) => res.on('end', resolve));
    await new Promise<void>((resolve) =>
      res.once('data', (chunk: string) => {
        raw += chunk;
        resolve();
      }),
    );
    res.pause();
    const sentWhilePaused = await untilUpstreamStalls();
    expect(h.upstream.requests.at(-1)?.outcome).toBe('open');
    expect(sentWhilePaused).toBeLessThan(TOKENS);
    await sleep(500);
    // Stalled, not merely slow: nothing more left the upstream while nobody read.
    expect(sent()).toBe(sentWhilePaused);

    res.on('data', (chunk: string) => (raw += chunk));
    res.resume();
    await ended;
    const events = raw.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text.split(' ').filter(Boolean)).toHaveLength(TOKENS);
  });
});

/** Whether the kernel still has an established TCP connection from local port `from` to `to` on 127.0.0.1. */
async function established(from: number, to: number): Promise<boolean> {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  const rows = (await readFile('/proc/net/tcp', 'utf8')).split('\n').map((l) => l.trim().split(/\s+/));
  // Columns: sl, local_address, rem_address, st (01: ESTABLISHED).
  return rows.some((r) => r[1] === `0100007F:${hex(from)}` && r[2] === `0100007F:${hex(to)}` && r[3] === '01');
}

describe('SSE to a client that stopped reading', () => {
  it('lets the connection go once the call is over, instead of holding it for as long as the client lives', {
    timeout: 60_000,
  }, async () => {
    const port = h.app.http!.port;
    const body = JSON.stringify({
      model: 'o3',
      messages: [{ role: 'user', content: 'an essay nobody reads' }],
      max_tokens: TOKENS,
      stream: true,
    });
    const before = h.upstream.requests.length;
    // A client that sends its request and never reads a byte of the answer, as a hung process does.
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n' +
        `x-request-timeout-ms: 4000\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    try {
      const client = socket.localPort!;
      expect(await established(port, client)).toBe(true);
      // The deadline ends the call and its upstream request while every buffer on the way is full.
      const outcome = await eventually(
        async () => h.upstream.requests[before]?.outcome,
        (o) => o === 'client_closed',
        15_000,
      );
      expect(outcome).toBe('client_closed');
      expect(h.upstream.requests[before]?.tokensSent).toBeLessThan(TOKENS);
      // Nothing will ever drain what is buffered for this client: the gateway closes its side.
      expect(
        await eventually(
          () => established(port, client),
          (open) => !open,
          30_000,
        ),
      ).toBe(false);
    } finally {
      socket.destroy();
    }
  });
});
