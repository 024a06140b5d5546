import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { ChatResponse, FallbackRequest, FallbackResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, clientsFor, type Clients } from '../helpers/grpc-client.js';

/**
 * The README's sample answers are what a newcomer's first calls print: `npm start` with no
 * provider key, answered by the embedded simulator. Their fields must be the ones such an answer has.
 */
const README = readFileSync('README.md', 'utf8');

/** The JSON block that follows `marker` in `text` (README.md unless given). */
function sample(marker: string, text = README): Record<string, unknown> {
  const from = text.indexOf(marker);
  const block = /```json\n([\s\S]*?)```/.exec(text.slice(from));
  if (from < 0 || !block?.[1]) throw new Error(`no JSON block after "${marker}"`);
  return JSON.parse(block[1]) as Record<string, unknown>;
}

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7/;

let app: App;
let clients: Clients;

beforeAll(async () => {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    HTTP_PORT: '0',
    METRICS_PORT: '0',
    SIMULATOR_LATENCY_SCALE: '0',
    DATABASE_URL: 'off',
  });
  app = await startApp(config, pino({ level: 'silent' }), {});
  clients = clientsFor(app.port);
});

afterAll(async () => {
  clients?.close();
  await app?.stop(100);
});

describe("the README's first calls", () => {
  it('show a Chat answer with the fields the simulator answers with, in their JSON names', async () => {
    const shown = sample('A Chat answer names the model');
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), { model: '', prompt: 'hello', messages: [] });
    const printed = ChatResponse.toJSON(response) as Record<string, unknown>;
    expect(Object.keys(shown).sort()).toEqual(Object.keys(printed).sort());
    expect(shown).toMatchObject({ model: printed.model, provider: printed.provider, simulated: true });
    // Request ids are UUIDv7 (time-ordered), as the sample shows.
    expect(shown.requestId).toMatch(UUID7);
    expect(printed.requestId).toMatch(UUID7);
  });

  it('show an HTTP answer with the simulator flag and an id of the same kind', async () => {
    const line = README.split('\n').find((l) => l.startsWith('{"id":') && l.includes('chat.completion'));
    const response = await fetch(`${app.http?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], max_tokens: 5 }),
    });
    const body = (await response.json()) as { id: string; x_orchestrator: { simulated: boolean } };
    expect(body.x_orchestrator.simulated).toBe(true);
    expect(line).toContain('"simulated":true');
    expect(body.id).toMatch(UUID7);
    expect(line).toMatch(new RegExp(`"id":"${UUID7.source.slice(1)}`));
  });
});

describe('the image Fallback example of docs/tools-and-structured-output.md', () => {
  it('shows the fields the call answers with', async () => {
    const page = readFileSync('docs/tools-and-structured-output.md', 'utf8');
    const marker = 'a Fallback chain whose first model takes no images skips it';
    const command = /-d '([^']+)'/.exec(page.slice(page.indexOf(marker)))?.[1] ?? '';
    const shown = sample(marker, page);
    const request = FallbackRequest.fromJSON(JSON.parse(command));
    const { response } = await callUnary(clients.chat.fallback.bind(clients.chat), request);
    const printed = FallbackResponse.toJSON(response) as Record<string, unknown>;
    expect(Object.keys(shown).sort()).toEqual(Object.keys(printed).sort());
    expect(shown).toMatchObject({ modelUsed: printed.modelUsed, fallbackTriggered: true });
  });
});
