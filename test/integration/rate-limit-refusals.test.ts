import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { BatchItem, BatchResponse, ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { ErrorInfo } from '../../src/gen/google/rpc/error_details.js';
import { collectStream } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { accessFile, sha } from '../helpers/access-file.js';

describe('a refused call beside calls admitted at the same moment', () => {
  let h: Harness;
  beforeAll(async () => {
    const tess = `    - { name: tess, sha256: ${sha('tess-secret')}, limits: { tokens_per_minute: 1000 } }\n`;
    h = await startHarness({ env: { CONFIG_FILE: accessFile(tess) } });
  });
  afterAll(async () => h.close());

  it('takes nothing from them: a Batch item that fits what is left is admitted even when the item before it was refused', async () => {
    const request = (maxTokens: number): ChatRequest => ({ model: 'gpt-4o-mini', messages: [], prompt: 'hi', maxTokens });
    // Each estimate is 4 prompt tokens plus max_tokens: 604 and 104 fit 1000 together, a second 604 does not.
    const items: BatchItem[] = [
      { requestId: 'first', request: request(600) },
      { requestId: 'second', request: request(600) },
      { requestId: 'small', request: request(100) },
    ];
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer tess-secret');
    const { messages, error } = await collectStream<BatchResponse>(h.clients.chat.batch({ items, concurrency: 3 }, metadata));
    expect(error).toBeUndefined();
    const outcomes = Object.fromEntries(
      messages.flatMap((m) => {
        if (m.event?.$case !== 'item') return [];
        const { requestId, outcome } = m.event.item;
        if (outcome?.$case !== 'error') return [[requestId, 'ok']];
        const info = outcome.error.details.find((d) => d.typeUrl.endsWith('google.rpc.ErrorInfo'));
        return [[requestId, info ? ErrorInfo.decode(info.value).reason : String(outcome.error.code)]];
      }),
    );
    expect(outcomes).toEqual({ first: 'ok', second: 'RATE_LIMITED', small: 'ok' });
  });
});
