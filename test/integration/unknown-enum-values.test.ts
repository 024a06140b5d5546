import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheMode } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** A number the proto does not define, as a newer or careless client may send on the wire. */
const UNKNOWN = 42 as CacheMode;

describe('enum values the server does not know', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('an unknown cache.mode is refused with INVALID_ARGUMENT naming the field, like an unknown role', async () => {
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [], cache: { mode: UNKNOWN, allowStale: false } });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violation = err.decoded.badRequest?.fieldViolations.find((v) => v.field === 'cache.mode');
    expect(violation?.description).toMatch(/CACHE_MODE_USE/);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it('every known cache.mode is still served', async () => {
    for (const mode of [CacheMode.CACHE_MODE_UNSPECIFIED, CacheMode.CACHE_MODE_USE, CacheMode.CACHE_MODE_BYPASS]) {
      const { response } = await callUnary(chat(), {
        model: 'gpt-4o',
        prompt: `mode ${mode}`,
        messages: [],
        cache: { mode, allowStale: false },
      });
      expect(response.content.length).toBeGreaterThan(0);
    }
  });
});
