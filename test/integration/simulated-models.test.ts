import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { DEFAULT_SIM_PROFILES } from '../../src/simulator/index.js';
import { callUnary, clientsFor, type Clients } from '../helpers/grpc-client.js';
import { startWithSimulator } from '../helpers/harness.js';

/**
 * The gateway in front of its embedded simulator answers every model the simulator serves,
 * reasoning models included: those refuse `max_tokens` as OpenAI's do, so the gateway must
 * name the cap as it does for api.openai.com.
 */
let app: App;
let clients: Clients;
beforeAll(async () => {
  app = await startWithSimulator({ LOG_LEVEL: 'silent', SIMULATOR_LATENCY_SCALE: '0' });
  clients = clientsFor(app.port);
}, 30_000);
afterAll(async () => {
  clients?.close();
  await app?.stop(200);
});

describe('the embedded simulator', () => {
  it('answers each of its models with the cap the caller set, and no fallback', async () => {
    const chat = clients.chat.chat.bind(clients.chat);
    for (const { id } of DEFAULT_SIM_PROFILES) {
      const { response } = await callUnary(chat, { model: id, prompt: 'Name the capital of France.', messages: [], maxTokens: 3 });
      const tried = response.attempts.map((a) => `${a.model} ${a.code}`);
      expect({ id, model: response.model, provider: response.provider, tried }).toEqual({
        id,
        model: id,
        provider: 'simulator',
        tried: [`${id} 0`],
      });
      expect(response.usage?.completionTokens).toBe(3);
    }
  });
});
