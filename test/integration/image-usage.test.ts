import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { sendChatCompletion } from '../helpers/chat-completion.js';

/**
 * gpt-4o-mini bills an image at 2,833 tokens plus 5,667 per 512-pixel tile of its high-detail
 * rendering: an ordinary 1024x1024 photo is 4 tiles, 25,501 prompt tokens. An upstream that
 * reports that many answers here as OpenAI does.
 */
const PHOTO_TOKENS = 2_833 + 4 * 5_667;

let upstream: Server;
let app: App;
let client: OpenAI;
beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      sendChatCompletion(
        res,
        { role: 'assistant', content: 'A cat.' },
        { model: 'gpt-4o-mini', usage: { prompt: PHOTO_TOKENS + 12, completion: 3 } },
      ),
    );
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  app = await startApp(
    loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      HTTP_PORT: '0',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: base,
      SIMULATOR: 'off',
      RETRY_MAX_ATTEMPTS: '1',
      DATABASE_URL: 'sqlite::memory:',
    }),
    pino({ level: 'silent' }),
    {},
  );
  client = new OpenAI({ baseURL: `${app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await app?.stop(100);
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

describe('the usage an upstream reports for an image', () => {
  it("takes gpt-4o-mini's count of a photo as reported, and prices it", async () => {
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this photo?' },
            { type: 'image_url', image_url: { url: 'https://example.com/photo.jpg', detail: 'high' } },
          ],
        },
      ],
    });
    expect(answer.usage?.prompt_tokens).toBe(PHOTO_TOKENS + 12);
    const extras = (answer as unknown as { x_orchestrator: { cost_usd: number; attempts: { cost_usd: number }[] } }).x_orchestrator;
    // gpt-4o-mini: $0.15 a million input tokens, $0.60 a million output tokens.
    expect(extras.cost_usd).toBeCloseTo(((PHOTO_TOKENS + 12) * 0.15 + 3 * 0.6) / 1e6, 12);
    await app.ledger.store?.flush();
    const row = await app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['prompt_tokens', 'usage_estimated'])
      .where('request_id', '=', answer.id)
      .executeTakeFirst();
    expect(row).toEqual({ prompt_tokens: PHOTO_TOKENS + 12, usage_estimated: 0 });
  });
});
