import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** The same invalid request through both doors: refused alike, naming the same field as each door spells it. */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

interface Refusal {
  status: number;
  fields: string[];
}

async function httpRefusal(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Refusal> {
  const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
  const json = (await res.json()) as { error?: { field_violations?: { field: string }[] } };
  return { status: res.status, fields: (json.error?.field_violations ?? []).map((v) => v.field) };
}

const long = 'm'.repeat(257);

describe('a list of models: each entry is checked where it stands', () => {
  it.each([
    ['a name over 256 characters', long],
    ['an empty name', ''],
  ])('Fallback and a fallback chat completion refuse %s by its index', async (_, name) => {
    const grpc = await unaryError(h.clients.chat.fallback.bind(h.clients.chat), {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['gpt-4o-mini', name],
      disableDefaultMessage: false,
    });
    expect(grpc.code).toBe(3);
    expect(grpc.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['models[1]']);
    const http = await httpRefusal({ orchestrator: { strategy: 'fallback', models: ['gpt-4o', name] } });
    expect(http).toEqual({ status: 400, fields: ['orchestrator.models[1]'] });
  });

  it.each([
    ['a name over 256 characters', long],
    ['an empty name', ''],
  ])("a route's candidates refuse %s by its index", async (_, name) => {
    const grpc = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'hi',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: ['gpt-4o-mini', name] },
    });
    expect(grpc.code).toBe(3);
    expect(grpc.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['route.candidates[1]']);
    const http = await httpRefusal({ model: 'route:speed', orchestrator: { route: { candidates: ['gpt-4o-mini', name] } } });
    expect(http).toEqual({ status: 400, fields: ['orchestrator.route.candidates[1]'] });
  });

  it('the x-orchestrator-fallbacks header refuses a name over 256 characters as a 400', async () => {
    const http = await httpRefusal({}, { 'x-orchestrator-fallbacks': `gpt-4o,${long}` });
    expect(http).toEqual({ status: 400, fields: ['x-orchestrator-fallbacks'] });
  });
});

describe('RankModels and GET /v1/models/rankings', () => {
  it('refuse a candidate over 256 characters by its index', async () => {
    const grpc = await unaryError(h.clients.models.rankModels.bind(h.clients.models), {
      profile: RoutingProfile.ROUTING_PROFILE_SPEED,
      prompt: 'hi',
      candidates: ['gpt-4o', long],
    });
    expect(grpc.code).toBe(3);
    expect(grpc.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['candidates[1]']);
    const res = await fetch(`${h.app.http!.url}/v1/models/rankings?profile=speed&candidates=gpt-4o,${long}`);
    const json = (await res.json()) as { error: { param: string } };
    expect({ status: res.status, param: json.error.param }).toEqual({ status: 400, param: 'candidates[1]' });
  });
});

describe('whole numbers past what the gRPC fields hold (int32)', () => {
  it.each([
    ['max_tokens', { max_tokens: 2 ** 31 }],
    ['orchestrator.hedge_delay_ms', { orchestrator: { strategy: 'race', models: ['gpt-4o'], hedge_delay_ms: 2 ** 31 } }],
    ['orchestrator.first_token_timeout_ms', { stream: true, orchestrator: { first_token_timeout_ms: 2 ** 31 } }],
  ])('%s is refused saying its upper bound, not that it is under its lower one', async (field, body) => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
    const json = (await res.json()) as { error: { field_violations: { field: string; description: string }[] } };
    expect(res.status).toBe(400);
    expect(json.error.field_violations).toEqual([{ field, description: 'must be at most 2147483647 (got 2147483648)' }]);
  });
});

describe('the 256-character bound on a model name', () => {
  it('counts characters, as every contract limit does: 200 emoji are an unknown model on both doors, not too long', async () => {
    const emoji = '🦜'.repeat(200);
    const grpc = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: emoji, prompt: 'hi', messages: [] });
    expect(grpc.decoded.errorInfo?.reason).toBe('MODEL_NOT_FOUND');
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: emoji, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    const fallback = await httpRefusal({ orchestrator: { strategy: 'fallback', models: ['gpt-4o', emoji] } });
    expect(fallback.status).toBe(404);
  });
});
