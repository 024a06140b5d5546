import http2 from 'node:http2';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Metadata values gRPC cannot hold (a tab, a byte past ASCII) that a raw HTTP/2 client can still
 * send: grpc-js drops each such entry and says so on standard error.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

function chatFrame(): Buffer {
  const bytes = ChatRequest.encode(Object.assign(ChatRequest.decode(new Uint8Array()), { model: 'gpt-4o-mini', prompt: 'hi' })).finish();
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  Buffer.from(bytes).copy(frame, 5);
  return frame;
}

async function rawChat(headers: Record<string, string>): Promise<Record<string, unknown>> {
  const body = chatFrame();
  const client = http2.connect(`http://127.0.0.1:${h.app.port}`);
  try {
    const req = client.request({
      ':method': 'POST',
      ':path': '/orchestrator.v1.ChatService/Chat',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const seen: Record<string, unknown> = {};
    req.on('response', (received) => Object.assign(seen, received));
    req.on('trailers', (received) => Object.assign(seen, received));
    req.on('data', () => undefined);
    req.end(body);
    await new Promise((resolve) => req.on('close', resolve));
    return seen;
  } finally {
    client.close();
  }
}

describe('a metadata value gRPC cannot hold', () => {
  it('is dropped without its value reaching the logs: an API key with a stray tab is not printed', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const answer = await rawChat({
      authorization: 'Bearer llmo_SECRET\tKEY',
      'x-api-key': 'llmo_OTHER_SECRET\u00e9',
      'x-team': 'caf\u00e9',
    });
    expect(answer['grpc-status']).toBe('0');
    const lines = printed.mock.calls.map((args) => args.map(String).join(' '));
    // The entries are still reported, by name.
    expect(lines.some((line) => line.includes('authorization'))).toBe(true);
    expect(lines.some((line) => line.includes('x-team'))).toBe(true);
    for (const line of lines) {
      expect(line).not.toContain('SECRET');
      expect(line).not.toContain('caf');
    }
  });
});
