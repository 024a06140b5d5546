import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import type { Provider, ProviderRequest } from '../../../src/providers/types.js';

/**
 * An upstream 503 (Retry-After: 7) whose error body is over UPSTREAM_MAX_BODY_BYTES, announced by
 * content-length or not: the attempt fails as the 503, unary and streamed, as it does with a
 * short body; the body's size is not the failure.
 */
const LIMIT = 1024;
let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = `{"error":{"message":"${'x'.repeat(64 * 1024)}"}}`;
      const announced = req.headers['x-announce'] === 'yes';
      res.writeHead(503, {
        'content-type': 'application/json',
        'retry-after': '7',
        ...(announced ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const request = (announced: boolean): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  maxTokens: 10,
  signal: new AbortController().signal,
  headers: { 'x-announce': announced ? 'yes' : 'no' },
});

async function failure(provider: Provider, stream: boolean, announced: boolean): Promise<OrchestratorError> {
  const err = await (stream
    ? (async () => {
        for await (const _ of provider.stream(request(announced)));
      })()
    : provider.complete(request(announced))
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof OrchestratorError)) throw new Error(`not an OrchestratorError: ${String(err)}`);
  return err;
}

describe('an upstream error status with a body over UPSTREAM_MAX_BODY_BYTES', () => {
  it.each(['openai', 'anthropic'])('%s: fails as the status, with its Retry-After, unary and streamed', async (kind) => {
    const provider =
      kind === 'openai'
        ? new OpenAIProvider({ name: 'up', baseURL: `${base}/v1`, apiKey: 'k', maxBodyBytes: LIMIT })
        : new AnthropicProvider({ name: 'up', baseURL: base, apiKey: 'k', maxBodyBytes: LIMIT });
    try {
      for (const stream of [false, true]) {
        for (const announced of [false, true]) {
          const err = await failure(provider, stream, announced);
          expect([err.reason, err.metadata.upstream_status, err.retryAfterMs], `stream ${stream}, announced ${announced}`).toEqual([
            'UPSTREAM_ERROR',
            '503',
            7000,
          ]);
        }
      }
    } finally {
      await provider.close();
    }
  });
});
