import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelTier } from '../../src/gen/orchestrator/v1/models.js';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

interface Answer {
  readonly status: number;
  readonly body: { error?: { message: string; param?: string }; model?: string };
}

/**
 * A chat request with one header whose value goes on the wire as exactly `value`'s bytes, over a
 * raw socket: curl sends what a UTF-8 terminal typed as UTF-8, other clients Latin-1.
 */
function chat(url: string, name: string, value: Buffer): Promise<Answer> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  const { hostname, port } = new URL(url);
  const head =
    'POST /v1/chat/completions HTTP/1.1\r\n' +
    `host: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${name}: `;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      // Not end(): a client that half-closes its side is taken for one that went away.
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), value, Buffer.from(`\r\n\r\n${body}`, 'utf8')]));
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      resolve({ status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Answer['body'] });
    });
  });
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('x-orchestrator-* headers with text beyond ASCII', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await callUnary(h.clients.models.createModel.bind(h.clients.models), {
      model: {
        id: 'quick-model',
        provider: 'openai',
        upstreamId: 'gpt-4o-mini',
        aliases: ['modèle-rapide'],
        fallbacks: [],
        family: '',
        tier: ModelTier.MODEL_TIER_UNSPECIFIED,
      },
    });
  });
  afterAll(() => h?.close());

  it('reads a UTF-8 value as UTF-8: a model named in x-orchestrator-fallbacks by its non-ASCII alias is found', async () => {
    const answer = await chat(h.app.http!.url, 'x-orchestrator-fallbacks', utf8('modèle-rapide'));
    expect(answer.body.error).toBeUndefined();
    expect(answer.status).toBe(200);
  });

  it('quotes a refused UTF-8 value as it was written', async () => {
    const unknown = await chat(h.app.http!.url, 'x-orchestrator-fallbacks', utf8('modèle-inconnu'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.message).toContain('"modèle-inconnu"');
    const profile = await chat(h.app.http!.url, 'x-orchestrator-profile', utf8('rápido'));
    expect(profile.status).toBe(400);
    expect(profile.body.error?.param).toBe('x-orchestrator-profile');
    expect(profile.body.error?.message).toContain('"rápido"');
  });

  it('keeps a value that is not UTF-8 as Latin-1, as a client that sends é as one byte', async () => {
    const profile = await chat(h.app.http!.url, 'x-orchestrator-profile', Buffer.from('rápido', 'latin1'));
    expect(profile.status).toBe(400);
    expect(profile.body.error?.message).toContain('"rápido"');
  });
});
