import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { type ChatRequest, type ResponseFormat, ResponseFormatType } from '../../src/gen/orchestrator/v1/chat.js';
import { FinishReason } from '../../src/gen/orchestrator/v1/common.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, clientsFor, collectStream, streamRequest, unaryError, type Clients } from '../helpers/grpc-client.js';

/** response_format through both providers, against recording upstreams, and the simulator's schema-valid answers. */
let openai: Simulator;
let anthropic: Simulator;
let app: App;
let clients: Clients;
beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startSimulator({ latencyScale: 0 }), startSimulator({ latencyScale: 0 })]);
  const file = writeConfigFile(`providers:
  - { name: alpha, kind: openai, base_url: "${openai.baseURL}", api_key_env: ALPHA_KEY }
  - { name: beta, kind: anthropic, base_url: "${anthropic.url}", api_key_env: BETA_KEY }
include_builtin_models: false
models:
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5, capabilities: { tools: true, images: true, json_schema: true } }
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9, capabilities: { tools: true, images: true, json_schema: true } }
`);
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    CONFIG_FILE: file,
    DEFAULT_MODEL: 'alpha-chat',
    SIMULATOR: 'off',
    RETRY_MAX_ATTEMPTS: '1',
    METRICS_PORT: '0',
    HTTP_PORT: '0',
  });
  app = await startApp(config, createLogger('silent'), { ALPHA_KEY: 'a', BETA_KEY: 'b' });
  clients = clientsFor(app.port);
});
afterAll(async () => {
  clients?.close();
  await app?.stop(100);
  await Promise.all([openai?.close(), anthropic?.close()]);
});

const chat = (req: Partial<ChatRequest>) =>
  callUnary(clients.chat.chat.bind(clients.chat), { model: 'alpha-chat', prompt: '', messages: [], ...req });
const chatError = (req: Partial<ChatRequest>) =>
  unaryError(clients.chat.chat.bind(clients.chat), { model: 'alpha-chat', prompt: '', messages: [], ...req });
const lastBody = (sim: Simulator) => sim.requests.at(-1)?.body as Record<string, unknown>;

const RECIPE = {
  type: 'object',
  properties: {
    title: { type: 'string', minLength: 3 },
    servings: { type: 'integer', minimum: 2, maximum: 8 },
    vegetarian: { type: 'boolean' },
    steps: { type: 'array', items: { type: 'string' }, minItems: 2 },
    difficulty: { type: 'string', enum: ['easy', 'hard'] },
  },
  required: ['title', 'servings', 'vegetarian', 'steps', 'difficulty'],
  additionalProperties: false,
};
const schemaFormat = (fields: Partial<NonNullable<ResponseFormat['jsonSchema']>> = {}): ResponseFormat => ({
  type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
  jsonSchema: { name: 'recipe', description: 'A recipe', schema: RECIPE, strict: true, ...fields },
});

/** What a recipe answer must look like: every required property of the right type and within its bounds. */
function expectRecipe(text: string): void {
  const recipe = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(recipe).sort()).toEqual(['difficulty', 'servings', 'steps', 'title', 'vegetarian']);
  expect(typeof recipe.title === 'string' && recipe.title.length >= 3).toBe(true);
  expect(Number.isInteger(recipe.servings) && (recipe.servings as number) >= 2 && (recipe.servings as number) <= 8).toBe(true);
  expect(typeof recipe.vegetarian).toBe('boolean');
  expect(Array.isArray(recipe.steps) && recipe.steps.length >= 2 && recipe.steps.every((s) => typeof s === 'string')).toBe(true);
  expect(['easy', 'hard']).toContain(recipe.difficulty);
}

describe('JSON Schema answers on the OpenAI provider', () => {
  it('sends response_format json_schema natively and the simulator answers JSON that follows the schema', async () => {
    const { response } = await chat({ prompt: 'A pancake recipe', responseFormat: schemaFormat() });
    expect(lastBody(openai).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'recipe', description: 'A recipe', schema: RECIPE, strict: true },
    });
    expect(response.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    expectRecipe(response.content);
  });

  it('streams the same JSON', async () => {
    const streamed = await collectStream(
      clients.chat.streamChat(streamRequest({ model: 'alpha-chat', prompt: 'A soup recipe', responseFormat: schemaFormat() })),
    );
    expect(streamed.error).toBeUndefined();
    expectRecipe(streamed.messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join(''));
  });

  it('sends json_object and answers a JSON object', async () => {
    const { response } = await chat({
      prompt: 'Answer in JSON',
      responseFormat: { type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_OBJECT },
    });
    expect(lastBody(openai).response_format).toEqual({ type: 'json_object' });
    expect(typeof JSON.parse(response.content)).toBe('object');
  });

  it('sends no response_format for text', async () => {
    await chat({ prompt: 'plain', responseFormat: { type: ResponseFormatType.RESPONSE_FORMAT_TYPE_TEXT } });
    expect(lastBody(openai)).not.toHaveProperty('response_format');
  });

  it('keys the response cache on the schema', async () => {
    const first = await chat({ prompt: 'cache schema', temperature: 0, responseFormat: schemaFormat() });
    const again = await chat({ prompt: 'cache schema', temperature: 0, responseFormat: schemaFormat() });
    const other = await chat({ prompt: 'cache schema', temperature: 0, responseFormat: schemaFormat({ strict: false }) });
    expect([first.response.cache?.hit, again.response.cache?.hit, other.response.cache?.hit]).toEqual([false, true, false]);
  });
});

describe('JSON Schema answers on the Anthropic provider', () => {
  // The Messages API answers 400 to a schema with an object left open or a constraint it does
  // not take (minimum, minLength, minItems above 1...): the schema goes as Anthropic's SDK
  // shapes it, each object closed and those constraints written into its description.
  it('sends the schema as output_config.format, shaped as the Messages API takes it (the description goes into the schema)', async () => {
    await chat({ model: 'beta-claude', prompt: 'A pancake recipe', responseFormat: schemaFormat() });
    expect(lastBody(anthropic).output_config).toEqual({
      format: {
        type: 'json_schema',
        schema: {
          type: 'object',
          description: 'A recipe',
          properties: {
            title: { type: 'string', description: '{minLength: 3}' },
            servings: { type: 'integer', description: '{minimum: 2, maximum: 8}' },
            vegetarian: { type: 'boolean' },
            steps: { type: 'array', items: { type: 'string' }, description: '{minItems: 2}' },
            difficulty: { enum: ['easy', 'hard'] },
          },
          required: ['title', 'servings', 'vegetarian', 'steps', 'difficulty'],
          additionalProperties: false,
        },
      },
    });
    const open = { type: 'object', properties: { note: { type: 'object', properties: { text: { type: 'string' } } } } };
    await chat({ model: 'beta-claude', prompt: 'A note', responseFormat: schemaFormat({ schema: open }) });
    expect(lastBody(anthropic).output_config).toMatchObject({
      format: { schema: { additionalProperties: false, properties: { note: { additionalProperties: false } } } },
    });
  });

  it('refuses a schema the Messages API cannot take (a property without a type), naming the field and the provider, without calling upstream', async () => {
    const before = anthropic.requests.length;
    const err = await chatError({
      model: 'beta-claude',
      prompt: 'hi',
      responseFormat: schemaFormat({ schema: { type: 'object', properties: { anything: {} } } }),
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violation = err.decoded.badRequest?.fieldViolations[0];
    expect(violation?.field).toBe('response_format.json_schema.schema');
    expect(violation?.description).toContain('provider beta');
    expect(anthropic.requests.length).toBe(before);
  });

  it('refuses json_object, naming the field and the provider, without calling upstream', async () => {
    const before = anthropic.requests.length;
    const err = await chatError({
      model: 'beta-claude',
      prompt: 'hi',
      responseFormat: { type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_OBJECT },
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violation = err.decoded.badRequest?.fieldViolations[0];
    expect(violation?.field).toBe('response_format');
    expect(violation?.description).toContain('provider beta');
    expect(anthropic.requests.length).toBe(before);
  });
});

describe('validation', () => {
  it('needs a named, non-empty schema with JSON_SCHEMA and no schema with the other types', async () => {
    const missing = await chatError({ prompt: 'hi', responseFormat: { type: ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA } });
    expect(missing.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['response_format.json_schema']);
    const bad = await chatError({ prompt: 'hi', responseFormat: schemaFormat({ name: 'has space', schema: {} }) });
    expect(bad.decoded.badRequest?.fieldViolations.map((v) => v.field).sort()).toEqual([
      'response_format.json_schema.name',
      'response_format.json_schema.schema',
    ]);
    const stray = await chatError({
      prompt: 'hi',
      responseFormat: { type: ResponseFormatType.RESPONSE_FORMAT_TYPE_TEXT, jsonSchema: schemaFormat().jsonSchema },
    });
    expect(stray.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['response_format.json_schema']);
  });
});
