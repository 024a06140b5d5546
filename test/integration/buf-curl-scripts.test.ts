import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import type { SyncRunner } from '../../src/catalog/sync/types.js';

/** examples/buf-curl: one script per RPC of the contract, each run once against a real server. */
const run = promisify(execFile);
const DIR = 'examples/buf-curl';

/** `StreamChat` -> `stream-chat`. */
const kebab = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

function rpcsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((m) => m[1] ?? '');
}

/** Every script the contract calls for: our RPCs by name, and health-<rpc> for grpc.health.v1. */
function expectedScripts(): string[] {
  const ours = readdirSync('proto/orchestrator/v1')
    .filter((f) => f.endsWith('.proto'))
    .flatMap((f) => rpcsOf(join('proto/orchestrator/v1', f)));
  const health = rpcsOf('proto/grpc/health/v1/health.proto').map((rpc) => `health-${rpc}`);
  return [...ours, ...health].map((rpc) => `${kebab(rpc)}.sh`).sort();
}

/** buf curl prints each message as indented JSON; a server stream prints several. */
function messages(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split(/\n(?=\{)/)
    .map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
}

/** What each script's output must look like (all messages of the call, in order). */
const PLAUSIBLE: Record<string, (out: Record<string, unknown>[]) => void> = {
  'chat.sh': ([m]) => expect(m).toMatchObject({ model: 'gpt-4o-mini', content: expect.stringContaining('Simulated') }),
  'stream-chat.sh': (ms) => {
    expect(Object.keys(ms[0] ?? {})).toEqual(['started']);
    expect(Object.keys(ms.at(-1) ?? {})).toEqual(['completed']);
    expect(ms.slice(1, -1).every((m) => 'delta' in m)).toBe(true);
  },
  'race.sh': ([m]) => {
    expect(m?.model).toMatch(/^gpt-4o(-mini)?$/);
    expect(m?.attempts).toHaveLength(2);
  },
  'fallback.sh': ([m]) => expect(m).toMatchObject({ modelUsed: 'gpt-4-turbo', content: expect.any(String) }),
  'batch.sh': (ms) => {
    expect(ms).toHaveLength(4);
    expect(ms.at(-1)).toMatchObject({ summary: { total: 3, successful: 2, failed: 1 } });
  },
  'list-models.sh': ([m]) => expect((m?.models as { id: string }[] | undefined)?.map((x) => x.id)).toContain('gpt-4o'),
  'rank-models.sh': ([m]) => expect(m).toMatchObject({ decision: { profile: 'ROUTING_PROFILE_SPEED', ranking: expect.any(Array) } }),
  'get-stats.sh': ([m]) => expect(m).toHaveProperty('uptimeSeconds'),
  // The ledger may not hold the concurrent scripts' calls yet: an answer is a message with the right fields.
  'get-usage.sh': ([m]) => expect(Object.keys(m ?? {}).every((k) => k === 'rows')).toBe(true),
  'list-calls.sh': ([m]) => expect(Object.keys(m ?? {}).every((k) => k === 'calls' || k === 'nextPageToken')).toBe(true),
  'get-routing-analytics.sh': ([m]) => expect(Object.keys(m ?? {}).every((k) => k === 'profiles')).toBe(true),
  'watch-stats.sh': (ms) => {
    expect(ms).toHaveLength(2);
    for (const m of ms) expect(m).toHaveProperty('stats.uptimeSeconds');
  },
  'create-model.sh': ([m]) => expect(m).toMatchObject({ model: { id: 'new-llama', provider: 'openai', available: true } }),
  'update-model.sh': ([m]) => expect(m).toMatchObject({ model: { id: 'my-llama', inputPricePerMillion: 0.25 } }),
  'delete-model.sh': ([m]) => expect(m).toEqual({}),
  'sync-catalog.sh': ([m]) => expect(m).toMatchObject({ reports: [{ source: 'CATALOG_SOURCE_OPENROUTER', ok: true }] }),
  'list-model-history.sh': ([m]) => expect(Object.keys(m ?? {}).every((k) => k === 'changes')).toBe(true),
  'embed.sh': ([m]) => {
    expect(m).toMatchObject({ model: 'text-embedding-3-small', dimensions: 4 });
    expect(m?.embeddings).toHaveLength(2);
  },
  'create-api-key.sh': ([m]) =>
    expect(m).toMatchObject({ apiKey: { name: 'ci-created', source: 'API_KEY_SOURCE_RUNTIME' }, key: expect.stringMatching(/^llmo_/) }),
  'list-api-keys.sh': ([m]) => expect(m?.apiKeys).toContainEqual(expect.objectContaining({ name: 'root', readOnly: true })),
  'update-api-key.sh': ([m]) => expect(m).toMatchObject({ apiKey: { name: 'ci-update', budgets: { usdPerDay: 10 } } }),
  'revoke-api-key.sh': ([m]) => expect(m).toMatchObject({ apiKey: { name: 'ci-revoke', revokeTime: expect.any(String) } }),
  'health-check.sh': ([m]) => expect(m).toEqual({ status: 'SERVING' }),
  'health-list.sh': ([m]) => expect(m).toHaveProperty(['statuses', 'orchestrator.v1.ChatService', 'status'], 'SERVING'),
  'health-watch.sh': (ms) => expect(ms).toEqual([{ status: 'SERVING' }]),
};

/** How each script is run so that it ends by itself (streams that never end take COUNT). */
const ARGS: Record<string, { env?: Record<string, string>; body?: object }> = {
  'watch-stats.sh': { env: { COUNT: '2' }, body: { intervalMs: 100 } },
  'health-watch.sh': { env: { COUNT: '1' } },
  // The scripts run together: each runtime-model script has a model of its own (update-model.sh's
  // default, my-llama, and old-llama are created before).
  'create-model.sh': { body: { model: { id: 'new-llama', provider: 'openai', upstreamId: 'gpt-4o-mini', inputPricePerMillion: 0.2 } } },
  'delete-model.sh': { body: { id: 'old-llama' } },
  // ApiKeyService runs on a server of its own with an admin key: a key created on the open server
  // would close it to the other scripts. ci-update and ci-revoke are created before.
  'create-api-key.sh': { body: { name: 'ci-created', scopes: { scopes: [] } } },
  'update-api-key.sh': { body: { name: 'ci-update', budgets: { usdPerDay: 10 } } },
  'revoke-api-key.sh': { body: { name: 'ci-revoke' } },
};

const KEYED = new Set(['create-api-key.sh', 'list-api-keys.sh', 'update-api-key.sh', 'revoke-api-key.sh']);

/** SyncCatalog needs a source: this one reports an empty but successful OpenRouter run. */
const emptySource: SyncRunner = {
  run: (source) =>
    Promise.resolve({ source, startedAt: new Date(), finishedAt: new Date(), ok: true, models: [], matched: [], unmatched: [] }),
};

let h: Harness;
let keyed: Harness;
beforeAll(async () => {
  h = await startHarness({ startOptions: { catalogSync: emptySource } });
  for (const id of ['my-llama', 'old-llama']) await h.app.catalog.createModel({ id, provider: 'openai', aliases: [], fallbacks: [] });
  const file = writeConfigFile(`access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
  keyed = await startHarness({ env: { CONFIG_FILE: file } });
  for (const name of ['ci-update', 'ci-revoke']) {
    await run('bash', [join(DIR, 'create-api-key.sh'), JSON.stringify({ name })], {
      timeout: 20_000,
      env: { ...process.env, ADDR: `127.0.0.1:${keyed.app.port}`, KEY: 'root-secret' },
    });
  }
}, 60_000);
afterAll(async () => {
  await h?.close();
  await keyed?.close();
});

describe('examples/buf-curl', () => {
  it('has one executable script per RPC in proto/ (ours and grpc.health.v1), and nothing else', () => {
    const scripts = readdirSync(DIR)
      .filter((f) => f.endsWith('.sh') && statSync(join(DIR, f)).mode & 0o100)
      .sort();
    expect(scripts).toEqual(expectedScripts());
    expect(Object.keys(PLAUSIBLE).sort()).toEqual(expectedScripts());
  });

  // Concurrently: most of each run is npx and buf starting up.
  it.concurrent.each(expectedScripts())(
    '%s exits 0 with a plausible answer from a real server',
    async (script) => {
      const { env = {}, body } = ARGS[script] ?? {};
      const { stdout } = await run('bash', [join(DIR, script), ...(body ? [JSON.stringify(body)] : [])], {
        timeout: 20_000,
        env: KEYED.has(script)
          ? { ...process.env, ADDR: `127.0.0.1:${keyed.app.port}`, KEY: 'root-secret', ...env }
          : { ...process.env, ADDR: `127.0.0.1:${h.app.port}`, ...env },
      });
      PLAUSIBLE[script]?.(messages(stdout));
    },
    25_000,
  );
});

describe('examples/buf-curl against a gateway with API keys', () => {
  // Health checks and reflection need no key; every other RPC does once keys are configured.
  const needKey = () => expectedScripts().filter((s) => !s.startsWith('health-'));

  it('every script but the health checks sends KEY as the bearer key', () => {
    const without = needKey().filter((s) => !readFileSync(join(DIR, s), 'utf8').includes('authorization: Bearer $KEY'));
    expect(without).toEqual([]);
  });

  it.concurrent.each(['chat.sh', 'get-usage.sh', 'create-model.sh'])(
    '%s with KEY is answered by a gateway that requires keys',
    async (script) => {
      const { env = {}, body } = ARGS[script] ?? {};
      const { stdout } = await run('bash', [join(DIR, script), ...(body ? [JSON.stringify(body)] : [])], {
        timeout: 20_000,
        env: { ...process.env, ADDR: `127.0.0.1:${keyed.app.port}`, KEY: 'root-secret', ...env },
      });
      PLAUSIBLE[script]?.(messages(stdout));
    },
    25_000,
  );
});

describe('examples/buf-curl/take.sh', () => {
  /** Processes whose command line names this server's address (buf curl, or its npm wrapper). */
  async function callersOf(address: string): Promise<string[]> {
    const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
    return stdout.split('\n').filter((line) => line.includes(`//${address}/`));
  }

  it('leaves no buf curl behind once COUNT messages of an endless stream are printed', async () => {
    const address = `127.0.0.1:${h.app.port}`;
    await run('bash', [join(DIR, 'health-watch.sh')], { timeout: 20_000, env: { ...process.env, ADDR: address, COUNT: '1' } });
    // A Watch stream never ends by itself: a buf still running would hold it open for good.
    const deadline = performance.now() + 3_000;
    let left = await callersOf(address);
    while (left.length > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await callersOf(address);
    }
    expect(left).toEqual([]);
  }, 25_000);

  it('prints no error when it ended the stream itself after COUNT messages', async () => {
    const { stdout, stderr } = await run('bash', [join(DIR, 'watch-stats.sh'), JSON.stringify({ intervalMs: 100 })], {
      timeout: 20_000,
      env: { ...process.env, ADDR: `127.0.0.1:${h.app.port}`, COUNT: '2' },
    });
    expect(messages(stdout)).toHaveLength(2);
    expect(stderr).toBe('');
  }, 25_000);

  it("prints buf curl's error when the stream ends before COUNT messages", async () => {
    const err = await run('bash', [join(DIR, 'watch-stats.sh'), JSON.stringify({ intervalMs: 5 })], {
      timeout: 20_000,
      env: { ...process.env, ADDR: `127.0.0.1:${h.app.port}`, COUNT: '2' },
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(err).toMatchObject({ code: 1, stderr: expect.stringContaining('invalid_argument') });
  }, 25_000);
});
