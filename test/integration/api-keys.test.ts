import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { type BatchResponse, ChatServiceClient } from '../../src/gen/orchestrator/v1/chat.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { ApiKeySource, ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import type { SyncReport } from '../../src/catalog/sync/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary, collectStream, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });
const ROOT = bearer('root-secret');
const chatWith = (h: Harness, key: string, model = 'gpt-4o-mini') =>
  callUnary(h.clients.chat.chat.bind(h.clients.chat), { model, prompt: 'hi', messages: [] }, bearer(key));
const chatError = (h: Harness, key: string, model = 'gpt-4o-mini') =>
  unaryError(h.clients.chat.chat.bind(h.clients.chat), { model, prompt: 'hi', messages: [] }, bearer(key));

describe('API keys managed at runtime (SQLite file)', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  let file: string;
  let configFile: string;
  let env: Record<string, string>;
  const open = async () => {
    h = await startHarness({ env });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  };
  const close = async () => {
    keys?.close();
    await h?.close();
  };
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'llmo-keys-')), 'ledger.db');
    configFile = accessFile(`    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
    env = { CONFIG_FILE: configFile, DATABASE_URL: `sqlite:${file}`, KEYS_REFRESH_MS: '200' };
    await open();
  });
  afterAll(close);

  const create = (req: Parameters<ApiKeyServiceClient['createApiKey']>[0], as = ROOT) => callUnary(keys.createApiKey.bind(keys), req, as);
  let appKey = '';

  it('CreateApiKey returns the key once; the key works at once on both doors and only its SHA-256 is stored', async () => {
    const { response } = await create({ name: 'app', allowedModels: { patterns: ['gpt-4o-mini'] }, limits: { requestsPerMinute: 100 } });
    appKey = response.key;
    expect(appKey).toMatch(/^llmo_[A-Za-z0-9_-]{43}$/);
    expect(response.apiKey).toMatchObject({
      name: 'app',
      source: ApiKeySource.API_KEY_SOURCE_RUNTIME,
      readOnly: false,
      allowedModels: ['gpt-4o-mini'],
      limits: { requestsPerMinute: 100 },
      keyPrefix: appKey.slice(0, 11),
    });
    expect((await chatWith(h, appKey)).response.content.length).toBeGreaterThan(0);
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${appKey}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    // The model permission came with the key.
    expect((await chatError(h, appKey, 'gpt-4o')).code).toBe(grpc.status.PERMISSION_DENIED);

    const rows = await h.app.ledger.database()!.db.selectFrom('api_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.sha256).toBe(sha(appKey));
    expect(JSON.stringify(rows)).not.toContain(appKey);
  });

  it('refuses a taken name, bad fields (with details) and callers without the admin scope', async () => {
    const taken = await unaryError(keys.createApiKey.bind(keys), { name: 'alice' }, ROOT);
    expect(taken.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(taken.decoded.errorInfo?.reason).toBe('API_KEY_EXISTS');
    expect((await unaryError(keys.createApiKey.bind(keys), { name: 'app' }, ROOT)).code).toBe(grpc.status.ALREADY_EXISTS);

    const bad = await unaryError(
      keys.createApiKey.bind(keys),
      { name: 'no spaces', limits: { requestsPerMinute: 0 }, budgets: { usdPerDay: -1 }, scopes: { scopes: ['root'] } },
      ROOT,
    );
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual([
      'name',
      'limits.requests_per_minute',
      'budgets.usd_per_day',
      'scopes.scopes[0]',
    ]);

    const notAdmin = await unaryError(keys.listApiKeys.bind(keys), { includeRevoked: false }, bearer('alice-secret'));
    expect(notAdmin.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(notAdmin.decoded.errorInfo?.reason).toBe('ADMIN_REQUIRED');
    expect((await unaryError(keys.createApiKey.bind(keys), { name: 'x' }, bearer(appKey))).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it("ListApiKeys shows the config file's keys read-only; changing one is FAILED_PRECONDITION", async () => {
    const listed = (await callUnary(keys.listApiKeys.bind(keys), { includeRevoked: false }, ROOT)).response.apiKeys;
    expect(listed.map((k) => [k.name, k.source, k.readOnly])).toEqual([
      ...['alice', 'bob', 'carol', 'dave', 'erin', 'root'].map((n) => [n, ApiKeySource.API_KEY_SOURCE_CONFIG_FILE, true]),
      ['app', ApiKeySource.API_KEY_SOURCE_RUNTIME, false],
    ]);
    expect(listed.find((k) => k.name === 'alice')).toMatchObject({
      allowedModels: ['gpt-4o-mini', 'gpt-3.5*'],
      limits: { requestsPerMinute: 5 },
    });
    for (const call of [
      () => unaryError(keys.updateApiKey.bind(keys), { name: 'alice', scopes: { scopes: ['admin'] } }, ROOT),
      () => unaryError(keys.revokeApiKey.bind(keys), { name: 'alice' }, ROOT),
    ]) {
      const refused = await call();
      expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(refused.decoded.errorInfo?.reason).toBe('API_KEY_READ_ONLY');
    }
    expect((await unaryError(keys.revokeApiKey.bind(keys), { name: 'nobody' }, ROOT)).code).toBe(grpc.status.NOT_FOUND);
  });

  it('UpdateApiKey and RevokeApiKey without a name are INVALID_ARGUMENT naming the field, not NOT_FOUND', async () => {
    for (const call of [
      () => unaryError(keys.updateApiKey.bind(keys), { name: '', limits: { requestsPerMinute: 5 } }, ROOT),
      () => unaryError(keys.revokeApiKey.bind(keys), { name: '' }, ROOT),
    ]) {
      const refused = await call();
      expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(refused.decoded.badRequest?.fieldViolations).toEqual([expect.objectContaining({ field: 'name', description: 'required' })]);
    }
  });

  it('UpdateApiKey replaces what it sets: models, limits, budgets, scopes', async () => {
    const updated = (
      await callUnary(
        keys.updateApiKey.bind(keys),
        { name: 'app', allowedModels: { patterns: ['gpt-4o'] }, budgets: { usdPerMonth: 5 }, scopes: { scopes: ['admin'] } },
        ROOT,
      )
    ).response.apiKey;
    expect(updated).toMatchObject({
      allowedModels: ['gpt-4o'],
      limits: { requestsPerMinute: 100 },
      budgets: { usdPerMonth: 5 },
      scopes: ['admin'],
    });
    expect((await chatError(h, appKey, 'gpt-4o-mini')).code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await chatWith(h, appKey, 'gpt-4o')).response.model).toBe('gpt-4o');
    // Now an admin: it may list keys.
    expect((await callUnary(keys.listApiKeys.bind(keys), { includeRevoked: false }, bearer(appKey))).response.apiKeys.length).toBe(7);
  });

  it('runtime keys survive a restart on the same file', async () => {
    await close();
    await open();
    expect((await chatWith(h, appKey, 'gpt-4o')).response.content.length).toBeGreaterThan(0);
  });

  it('RevokeApiKey: the key is refused at once; revoked keys are listed only when asked', async () => {
    const revoked = (await callUnary(keys.revokeApiKey.bind(keys), { name: 'app' }, ROOT)).response.apiKey;
    expect(revoked?.revokeTime?.seconds).toBeGreaterThan(0);
    const refused = await chatError(h, appKey, 'gpt-4o');
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
    const live = (await callUnary(keys.listApiKeys.bind(keys), { includeRevoked: false }, ROOT)).response.apiKeys;
    expect(live.map((k) => k.name)).not.toContain('app');
    const all = (await callUnary(keys.listApiKeys.bind(keys), { includeRevoked: true }, ROOT)).response.apiKeys;
    expect(all.find((k) => k.name === 'app')?.revokeTime).toBeDefined();
    expect((await unaryError(keys.revokeApiKey.bind(keys), { name: 'app' }, ROOT)).code).toBe(grpc.status.NOT_FOUND);
  });

  it('a Batch running when its key is revoked finishes the item under way; the items after it are refused as a revoked key, not as a model it may not call', async () => {
    const { key } = (await create({ name: 'batcher', budgets: { usdPerDay: 5 } })).response;
    const sent = h.upstream.requests.length;
    h.upstream.injectFault({ kind: 'delay', delayMs: 1_500, model: 'gpt-4o-mini', times: 1 });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    const items = ['first', 'second', 'routed'].map((requestId) => ({
      requestId,
      request: {
        messages: [],
        prompt: `hi ${requestId}`,
        ...(requestId === 'routed'
          ? { model: '', route: { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates: ['gpt-4o-mini'] } }
          : { model: 'gpt-4o-mini' }),
      },
    }));
    const running = collectStream<BatchResponse>(h.clients.chat.batch({ items, concurrency: 1 }, metadata));
    await eventually(
      async () => h.upstream.requests.length,
      (n) => n > sent,
      5_000,
    );
    await callUnary(keys.revokeApiKey.bind(keys), { name: 'batcher' }, ROOT);
    const { messages, error } = await running;
    expect(error).toBeUndefined();
    const outcomes = messages.flatMap((m) => (m.event?.$case === 'item' ? [m.event.item] : []));
    const first = outcomes.find((o) => o.requestId === 'first')?.outcome;
    expect(first?.$case).toBe('response');
    for (const id of ['second', 'routed']) {
      const outcome = outcomes.find((o) => o.requestId === id)?.outcome;
      const refused = outcome?.$case === 'error' ? outcome.error : undefined;
      expect({ code: refused?.code, message: refused?.message }).toEqual({
        code: grpc.status.UNAUTHENTICATED,
        message: 'API key "batcher" was revoked (or removed from the config file) after this call began',
      });
    }
    expect(h.upstream.requests.length).toBe(sent + 1);
  });

  it("reloadKeys (SIGHUP) re-reads the config file's keys", async () => {
    expect((await chatError(h, 'frank-secret')).code).toBe(grpc.status.UNAUTHENTICATED);
    writeFileSync(
      configFile,
      `access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n    - { name: frank, sha256: ${sha('frank-secret')} }\n`,
    );
    h.app.reloadKeys();
    expect((await chatWith(h, 'frank-secret')).response.content.length).toBeGreaterThan(0);
    expect((await chatError(h, 'alice-secret')).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('keeps the keys it has when the reloaded file does not parse or does not validate', async () => {
    const good = readFileSync(configFile, 'utf8');
    try {
      for (const bad of ['access:\n  api_keys: [ { name: frank\n', 'access:\n  api_keys:\n    - { name: frank, sha256: not-a-digest }\n']) {
        writeFileSync(configFile, bad);
        h.app.reloadKeys();
        expect((await chatWith(h, 'frank-secret')).response.content.length).toBeGreaterThan(0);
        expect((await chatError(h, 'alice-secret')).code).toBe(grpc.status.UNAUTHENTICATED);
      }
    } finally {
      writeFileSync(configFile, good);
    }
  });
});

describe('an open service (no keys configured)', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  let opsKey = '';
  beforeAll(async () => {
    h = await startHarness({ env: { DATABASE_URL: 'sqlite::memory:' } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    keys?.close();
    await h?.close();
  });

  it('lets a loopback caller create the first key, after which calls need a key', async () => {
    const open = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] });
    expect(open.response.content.length).toBeGreaterThan(0);
    const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'ops', scopes: { scopes: ['admin'] } })).response;
    opsKey = key;
    const anonymous = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] });
    expect(anonymous.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await chatWith(h, key)).response.content.length).toBeGreaterThan(0);
    expect((await unaryError(keys.listApiKeys.bind(keys), { includeRevoked: false })).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('stays closed when its last key is revoked: the revoked key and calls without a key are refused, on both doors', async () => {
    const admin = bearer(opsKey);
    const live = (await callUnary(keys.listApiKeys.bind(keys), { includeRevoked: false }, admin)).response.apiKeys;
    expect(live.map((k) => k.name)).toEqual(['ops']);
    await callUnary(keys.revokeApiKey.bind(keys), { name: 'ops' }, admin);
    expect((await chatError(h, opsKey)).code).toBe(grpc.status.UNAUTHENTICATED);
    const anonymous = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] });
    expect(anonymous.code).toBe(grpc.status.UNAUTHENTICATED);
    const http = (headers: Record<string, string>) =>
      fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
      });
    expect((await http({ authorization: `Bearer ${opsKey}` })).status).toBe(401);
    expect((await http({})).status).toBe(401);
  });
});

describe('an open service bound to every address (HOST=::)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { HOST: '::', DATABASE_URL: 'sqlite::memory:' } });
  });
  afterAll(async () => h?.close());

  const listKeysFrom = async (host: string, metadata: Record<string, string> = {}) => {
    const client = new ApiKeyServiceClient(`${host}:${h.app.port}`, grpc.credentials.createInsecure());
    try {
      return await callUnary(client.listApiKeys.bind(client), { includeRevoked: false }, { metadata }).then(
        () => grpc.status.OK,
        (err: grpc.ServiceError) => err.code,
      );
    } finally {
      client.close();
    }
  };

  it('answers admin RPCs from loopback (IPv4, IPv6, IPv4-mapped) only, whatever x-forwarded-for says', async () => {
    expect(await listKeysFrom('127.0.0.1')).toBe(grpc.status.OK);
    expect(await listKeysFrom('[::1]')).toBe(grpc.status.OK);
    expect(await listKeysFrom('[::ffff:127.0.0.1]')).toBe(grpc.status.OK);
    // This machine's own addresses other than loopback are the network's side: refused.
    const outside = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && !a.internal && !a.address.startsWith('fe80'))
      .map((a) => (a?.family === 'IPv6' ? `[${a.address}]` : (a?.address ?? '')));
    for (const host of outside) {
      expect(await listKeysFrom(host, { 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1' })).toBe(grpc.status.PERMISSION_DENIED);
    }
  });
});

describe('a SIGHUP that leaves no key at all', () => {
  // A file emptied (or read while an editor rewrites it in place) must not open a closed service to every caller.
  it('keeps the service closed, refusing every call, and says so', async () => {
    const lines: { level: string; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as { level: string; msg: string });
        done();
      },
    });
    const upstream = await startSimulator({ latencyScale: 0 });
    const configFile = accessFile(`    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      HTTP_ENABLED: 'false',
      METRICS: 'off',
      DATABASE_URL: 'off',
      SIMULATOR: 'off',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: upstream.baseURL,
      CONFIG_FILE: configFile,
    });
    const app = await startApp(config, createLogger('info', sink), {});
    try {
      for (const emptied of ['access:\n  api_keys: []\n', '']) {
        writeFileSync(configFile, emptied);
        app.reloadKeys();
        const client = new ChatServiceClient(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
        try {
          const err = await unaryError(client.chat.bind(client), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] });
          expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
        } finally {
          client.close();
        }
      }
      expect(lines.filter((l) => l.msg.includes('the service is open to every caller'))).toEqual([]);
      expect(lines.filter((l) => l.msg.includes('no API key is left')).map((l) => l.level)).toEqual(['error', 'error']);
    } finally {
      await app.stop(100);
      await upstream.close();
    }
  });
});

describe('a SIGHUP after a section other than access changed', () => {
  type Line = { level: string; msg: string; sections?: string[]; err?: { message: string } };
  /** A gateway on the config file of test keys, its log lines kept. */
  async function startOnAccessFile(extra = ''): Promise<{ app: App; configFile: string; lines: Line[]; stop(): Promise<void> }> {
    const lines: Line[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Line);
        done();
      },
    });
    const upstream = await startSimulator({ latencyScale: 0 });
    const configFile = accessFile(extra);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      HTTP_ENABLED: 'false',
      METRICS: 'off',
      DATABASE_URL: 'off',
      SIMULATOR: 'off',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: upstream.baseURL,
      CONFIG_FILE: configFile,
    });
    const app = await startApp(config, createLogger('info', sink), {});
    return {
      app,
      configFile,
      lines,
      async stop() {
        await app.stop(100);
        await upstream.close();
      },
    };
  }
  const extraModel = (fields = '') =>
    `  - { id: extra, provider: openai, context_window: 1000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 1, family: x, tier: small, quality: 0.5${fields} }\n`;

  // Only `access` is read again: a new model or provider would otherwise look applied, the reload saying only that keys were read.
  it('says which changes wait for a restart', async () => {
    const { app, configFile, lines, stop } = await startOnAccessFile();
    const restartNeeded = () => lines.filter((l) => l.msg.includes('take a restart'));
    try {
      app.reloadKeys();
      expect(restartNeeded()).toEqual([]);
      writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}routing: { fallback_depth: 2 }\nmodels:\n${extraModel()}`);
      app.reloadKeys();
      expect(restartNeeded()).toMatchObject([
        {
          level: 'warn',
          sections: ['models', 'routing'],
          msg: 'config file reloaded for its access section only: changes to models, routing take a restart',
        },
      ]);
    } finally {
      await stop();
    }
  });

  it('does not count keys written in another order as a change', async () => {
    const sections = (headers: string, overrides: string) =>
      `providers:\n  - { name: local, kind: openai, base_url: "http://127.0.0.1:9/v1", headers: { ${headers} } }\n` +
      `catalog:\n  sync:\n    overrides: { ${overrides} }\n`;
    const { app, configFile, lines, stop } = await startOnAccessFile(sections('X-A: "1", X-B: "2"', 'vendor/a: gpt-4o, vendor/b: null'));
    const access = readFileSync(configFile, 'utf8').split('providers:')[0];
    const restartNeeded = () => lines.filter((l) => l.msg.includes('take a restart'));
    try {
      writeFileSync(configFile, `${access}${sections('X-B: "2", X-A: "1"', 'vendor/b: null, vendor/a: gpt-4o')}`);
      app.reloadKeys();
      expect(lines.filter((l) => l.msg === 'API keys reloaded from the config file')).toHaveLength(1);
      expect(restartNeeded()).toEqual([]);
      writeFileSync(configFile, `${access}${sections('X-B: "3", X-A: "1"', 'vendor/b: null, vendor/a: gpt-4o')}`);
      app.reloadKeys();
      expect(restartNeeded()).toMatchObject([{ level: 'warn', sections: ['providers'] }]);
    } finally {
      await stop();
    }
  });

  // Its access section applied, it looked reloaded, and the next restart stopped with exit code 2.
  it('keeps the keys it has when the file would not start again, saying why', async () => {
    const { app, configFile, lines, stop } = await startOnAccessFile();
    try {
      const client = new ChatServiceClient(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
      const chat = (key: string) => callUnary(client.chat.bind(client), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, bearer(key));
      try {
        writeFileSync(
          configFile,
          `access:\n  api_keys:\n    - { name: frank, sha256: ${sha('frank-secret')} }\nmodels:\n${extraModel(', fallbacks: [no-such-model]')}`,
        );
        app.reloadKeys();
        expect((await chat('erin-secret')).response.content.length).toBeGreaterThan(0);
        await expect(chat('frank-secret')).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      } finally {
        client.close();
      }
      expect(lines.filter((l) => l.msg.includes('reloaded'))).toMatchObject([
        {
          level: 'error',
          msg: 'config file not reloaded: its API keys stay as they were',
          err: { message: expect.stringContaining(`${configFile}: models: extra falls back to unknown model "no-such-model"`) },
        },
      ]);
    } finally {
      await stop();
    }
  });

  it('keeps the keys it has when the file leaves DEFAULT_MODEL out of the catalog', async () => {
    const { app, configFile, lines, stop } = await startOnAccessFile();
    try {
      writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}include_builtin_models: false\nmodels:\n${extraModel()}`);
      app.reloadKeys();
      expect(lines.filter((l) => l.msg.includes('reloaded'))).toMatchObject([
        {
          level: 'error',
          msg: 'config file not reloaded: its API keys stay as they were',
          err: { message: expect.stringContaining('DEFAULT_MODEL: "gpt-4o" is not in the catalog') },
        },
      ]);
    } finally {
      await stop();
    }
  });
});

describe('a SIGHUP and the models the database holds', () => {
  type Line = { level: string; msg: string; err?: { message: string } };
  const MISTRAL = 'mistralai/mistral-large';
  /** A synced OpenRouter list holding a model only OpenRouter serves. */
  const openRouterReport = (): SyncReport => ({
    source: 'openrouter',
    startedAt: new Date('2026-11-01T09:59:59Z'),
    finishedAt: new Date('2026-11-01T10:00:00Z'),
    ok: true,
    models: [
      { source: 'openrouter', externalId: MISTRAL, contextWindow: 128_000, inputPricePerMillion: 2, outputPricePerMillion: 6, raw: {} },
    ],
    matched: [],
    unmatched: [MISTRAL],
  });

  // Start-up takes a DEFAULT_MODEL that OpenRouter's synced list brought into the catalog: a reload
  // of a file that keeps its provider must take it too, or the file is applied only by a restart.
  it('reloads a file whose DEFAULT_MODEL is an OpenRouter-only model synced into the database', async () => {
    const openrouter = await startSimulator({ latencyScale: 0 });
    const database = `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-reload-')), 'ledger.db')}`;
    const configFile = accessFile(
      `providers:\n  - { name: openrouter, kind: openai, base_url: "${openrouter.baseURL}", api_key_env: OPENROUTER_API_KEY }\n`,
    );
    const env = { HOST: '127.0.0.1', PORT: '0', HTTP_ENABLED: 'false', METRICS: 'off', SIMULATOR: 'off', DATABASE_URL: database };
    const processEnv = { OPENROUTER_API_KEY: 'or-key' };
    const lines: Line[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Line);
        done();
      },
    });
    try {
      const first = await startApp(loadConfig({ ...env, CONFIG_FILE: configFile }), createLogger('silent'), processEnv);
      await first.catalog.applyReport(openRouterReport());
      await first.stop(100);
      const app = await startApp(
        loadConfig({ ...env, CONFIG_FILE: configFile, DEFAULT_MODEL: MISTRAL }),
        createLogger('info', sink),
        processEnv,
      );
      try {
        writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}routing: { fallback_depth: 2 }\n`);
        app.reloadKeys();
        expect(lines.filter((l) => l.level === 'error')).toEqual([]);
        expect(lines.map((l) => l.msg)).toContain('API keys reloaded from the config file');
      } finally {
        await app.stop(100);
      }
    } finally {
      await openrouter.close();
    }
  });
});

describe('ApiKeyService with the database off (DATABASE_URL=off)', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  beforeAll(async () => {
    const configFile = accessFile(`    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
    h = await startHarness({ env: { CONFIG_FILE: configFile, DATABASE_URL: 'off' } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    keys?.close();
    await h?.close();
  });

  // No retry can help until the gateway is configured with a database: UNAVAILABLE would have clients retry forever.
  it('answers FAILED_PRECONDITION saying to set DATABASE_URL, as UsageService and the runtime models do', async () => {
    for (const call of [
      () => unaryError(keys.createApiKey.bind(keys), { name: 'app' }, ROOT),
      () => unaryError(keys.listApiKeys.bind(keys), { includeRevoked: false }, ROOT),
      () => unaryError(keys.updateApiKey.bind(keys), { name: 'app' }, ROOT),
      () => unaryError(keys.revokeApiKey.bind(keys), { name: 'app' }, ROOT),
    ]) {
      const refused = await call();
      expect({ code: refused.code, reason: refused.decoded.errorInfo?.reason, message: refused.details }).toEqual({
        code: grpc.status.FAILED_PRECONDITION,
        reason: 'LEDGER_UNAVAILABLE',
        message: 'runtime API keys are kept in the database, and it is off (DATABASE_URL=off): set DATABASE_URL',
      });
    }
  });
});

describe('a runtime key whose name a reloaded config file also gives', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  let configFile: string;
  const root = `    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`;
  const writeKeys = (extra = '') => writeFileSync(configFile, `access:\n  api_keys:\n${root}${extra}`);
  beforeAll(async () => {
    configFile = accessFile(root);
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-keys-')), 'ledger.db');
    h = await startHarness({ env: { CONFIG_FILE: configFile, DATABASE_URL: `sqlite:${file}`, KEYS_REFRESH_MS: '200' } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    keys?.close();
    await h?.close();
  });

  // Shadowed by the file, the runtime key still exists: once the file drops the name it works again,
  // so a leaked one must be revocable while the file's entry is in force.
  it('can be revoked while the file gives the name, and stays refused once the file drops it', async () => {
    const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'ci' }, ROOT)).response;
    writeKeys(`    - { name: ci, sha256: ${sha('ci-file-secret')} }\n`);
    h.app.reloadKeys();
    expect((await chatWith(h, 'ci-file-secret')).response.content.length).toBeGreaterThan(0);

    const revoked = (await callUnary(keys.revokeApiKey.bind(keys), { name: 'ci' }, ROOT)).response.apiKey;
    expect(revoked).toMatchObject({ name: 'ci', source: ApiKeySource.API_KEY_SOURCE_RUNTIME });
    expect(revoked?.revokeTime).toBeDefined();
    // The file's key is not the runtime one: it stays in force, and stays read-only.
    expect((await chatWith(h, 'ci-file-secret')).response.content.length).toBeGreaterThan(0);
    const again = await unaryError(keys.revokeApiKey.bind(keys), { name: 'ci' }, ROOT);
    expect(again.decoded.errorInfo?.reason).toBe('API_KEY_READ_ONLY');

    writeKeys();
    h.app.reloadKeys();
    expect((await chatError(h, key)).code).toBe(grpc.status.UNAUTHENTICATED);
  });
});
