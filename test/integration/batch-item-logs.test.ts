import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import type { BatchResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { sendChatCompletion } from '../helpers/chat-completion.js';
import { eventually } from '../helpers/eventually.js';
import { clientsFor, collectStream, type Clients } from '../helpers/grpc-client.js';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { captureLines } from '../helpers/log-lines.js';

/** What a Batch item logs while it runs names the item, as its answer's request id does. */
const { lines, sink } = captureLines();

let app: App;
let upstream: RecordingUpstream;
let clients: Clients;
beforeAll(async () => {
  // A usage report no prompt of a few characters can have: refused, and a warning logged.
  upstream = await startRecordingUpstream((_body, res) =>
    sendChatCompletion(res, { role: 'assistant', content: 'hello' }, { model: 'gpt-4o-mini', usage: { prompt: 5_000_000, completion: 2 } }),
  );
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    RETRY_MAX_ATTEMPTS: '1',
    METRICS_PORT: '0',
    HTTP_ENABLED: 'false',
  });
  app = await startApp(config, createLogger('info', sink), {});
  clients = clientsFor(app.port);
});
afterAll(async () => {
  clients.close();
  await app.stop(100);
  await upstream.close();
});

describe('Batch item log lines', () => {
  it("carry the item's request id next to the Batch's", async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'batch-log-1');
    const request = { model: 'gpt-4o-mini', prompt: 'hi', messages: [] };
    const { messages } = await collectStream<BatchResponse>(
      clients.chat.batch(
        {
          items: [
            { requestId: 'item-a', request },
            { requestId: '', request },
          ],
        },
        metadata,
      ),
    );
    expect(messages.filter((m) => m.event?.$case === 'item' && m.event.item.outcome?.$case === 'response')).toHaveLength(2);
    const warnings = await eventually(
      async () => lines.filter((l) => l.msg === 'upstream usage report refused; charging an estimate instead'),
      (found) => found.length === 2,
    );
    expect(warnings.map((l) => l.requestId)).toEqual(['batch-log-1', 'batch-log-1']);
    expect(warnings.map((l) => l.itemRequestId).sort()).toEqual(['batch-log-1/1', 'item-a']);
  });
});
