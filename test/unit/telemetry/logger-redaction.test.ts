import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/telemetry/logger.js';

const SECRET = 'sk-live-0123456789';

function capture(): { readonly text: () => string; readonly sink: Writable } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { text: () => chunks.join(''), sink };
}

/** Objects shaped like what a log call may carry: grpc metadata, HTTP headers, SDK errors. */
const CARRIERS: Record<string, unknown>[] = [
  { apiKey: SECRET },
  { authorization: `Bearer ${SECRET}` },
  { 'x-api-key': SECRET },
  { metadata: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET } },
  { call: { apiKey: SECRET } },
  { headers: { Authorization: `Bearer ${SECRET}`, 'X-Api-Key': SECRET } },
  { req: { headers: { authorization: `Bearer ${SECRET}` } } },
  { request: { headers: { 'x-api-key': SECRET } } },
  { response: { config: { headers: { authorization: SECRET } } } },
  { err: { request: { options: { headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET } } } } },
  {
    err: Object.assign(new Error('upstream refused'), {
      headers: { 'x-api-key': SECRET },
      request: { headers: { authorization: SECRET } },
    }),
  },
  { error: { cause: { headers: { 'api-key': SECRET } } } },
];

describe('log redaction', () => {
  it.each(CARRIERS.map((c) => [JSON.stringify(c).replaceAll(SECRET, 'KEY').slice(0, 80), c]))(
    'never writes the key: %s',
    async (_name, carrier) => {
      const { text, sink } = capture();
      const log = createLogger('info', sink);
      log.info(carrier, 'line');
      log.warn(carrier, 'line');
      await new Promise((r) => setImmediate(r));
      expect(text()).toContain('[redacted]');
      expect(text()).not.toContain(SECRET);
    },
  );

  it('censors a copy: the logged object keeps its values, and a line without secrets is written as it is', async () => {
    const { text, sink } = capture();
    const carrier = { call: { apiKey: SECRET, model: 'gpt-4o' }, API_KEY: SECRET, n: 1 };
    createLogger('info', sink).info(carrier, 'line');
    createLogger('info', sink).info({ usage: { promptTokens: 3 }, model: 'gpt-4o' }, 'plain');
    await new Promise((r) => setImmediate(r));
    const [censored, plain] = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(censored).toMatchObject({ call: { apiKey: '[redacted]', model: 'gpt-4o' }, API_KEY: '[redacted]', n: 1 });
    expect(carrier).toEqual({ call: { apiKey: SECRET, model: 'gpt-4o' }, API_KEY: SECRET, n: 1 });
    expect(plain).toMatchObject({ usage: { promptTokens: 3 }, model: 'gpt-4o' });
  });

  it('keeps everything else, and the error message and stack', async () => {
    const { text, sink } = capture();
    createLogger('info', sink).warn(
      { err: Object.assign(new Error('upstream refused'), { headers: { authorization: SECRET, 'retry-after': '3' } }), model: 'gpt-4o' },
      'failed',
    );
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(text()) as { err: { message: string; stack: string; headers: Record<string, string> }; model: string };
    expect(line.model).toBe('gpt-4o');
    expect(line.err.message).toBe('upstream refused');
    expect(line.err.stack).toContain('Error: upstream refused');
    expect(line.err.headers).toEqual({ authorization: '[redacted]', 'retry-after': '3' });
  });
});
