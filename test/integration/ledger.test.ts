import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheMode } from '../../src/gen/orchestrator/v1/chat.js';
import { UsageGroup, UsageServiceClient, type GetUsageResponse, type UsageFilter } from '../../src/gen/orchestrator/v1/usage.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { runLedgerCommand } from '../../src/cli/ledger-commands.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** A UsageFilter with the fields a test sets (every string field present, as the codec needs). */
const filter = (f: Partial<UsageFilter>): UsageFilter => ({ keyName: '', model: '', provider: '', method: '', ...f });
const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });

/** Every row the ledger holds, calls in arrival order with their attempts and decision. */
async function ledgerRows(h: Harness) {
  const db = h.app.ledger.database()?.db;
  if (!db) throw new Error('ledger not open');
  await h.app.ledger.store?.flush();
  const calls = await db.selectFrom('ledger_calls').selectAll().orderBy('ts').execute();
  const attempts = await db.selectFrom('ledger_attempts').selectAll().orderBy('call_id').orderBy('seq').execute();
  const decisions = await db.selectFrom('ledger_decisions').selectAll().execute();
  return { calls, attempts, decisions };
}

describe('the ledger on a SQLite file', () => {
  let h: Harness;
  let file: string;
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-')), 'ledger.db');
    const admin = `    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`;
    env = { CONFIG_FILE: accessFile(admin), DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '20' };
    h = await startHarness({ latencyScale: 1, env });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    usage?.close();
    await h?.close();
  });
  let usage: UsageServiceClient;
  let env: Record<string, string>;
  const totalsSeen = { requests: 0, costUsd: 0, totalTokens: 0 };

  it('records one row per call, one per attempt and the routing decision', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const race = h.clients.chat.race.bind(h.clients.chat);
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const answers: { costUsd: number; attempts: { usage?: { totalTokens: number } | undefined }[] }[] = [];

    // success
    answers.push((await callUnary(chat, { model: 'gpt-4o-mini', prompt: 'hello', messages: [] }, bearer('erin-secret'))).response);
    // fallback: the primary fails once, the next model answers
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o', times: 1 });
    answers.push(
      (
        await callUnary(
          fallback,
          { model: '', prompt: 'fall', messages: [], models: ['gpt-4o', 'gpt-4o-mini'], disableDefaultMessage: false },
          bearer('erin-secret'),
        )
      ).response,
    );
    // race with a loser
    answers.push(
      (await callUnary(race, { model: '', prompt: 'race', messages: [], models: ['gpt-4-turbo', 'gpt-4o-mini'] }, bearer('erin-secret')))
        .response,
    );
    // cache: a miss, then a hit
    const cached = {
      model: 'gpt-4o-mini',
      prompt: 'same question',
      messages: [],
      temperature: 0,
      cache: { mode: CacheMode.CACHE_MODE_USE, allowStale: false },
    };
    answers.push((await callUnary(chat, cached, bearer('erin-secret'))).response);
    const hit = (await callUnary(chat, cached, bearer('erin-secret'))).response;
    expect(hit.cache?.hit).toBe(true);
    answers.push(hit);
    // routed
    answers.push(
      (await callUnary(chat, { model: '', prompt: 'route me', messages: [], route: { profile: 2, candidates: [] } }, bearer('erin-secret')))
        .response,
    );
    // failed: every attempt refused upstream
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o-mini', times: 1 });
    const failed = await unaryError(chat, { model: 'gpt-4o-mini', prompt: 'fail', messages: [] }, bearer('erin-secret'));
    expect(failed.code).toBe(grpc.status.UNAVAILABLE);
    // rate-limited: alice may send 5 a minute
    for (let i = 0; i < 5; i += 1)
      answers.push((await callUnary(chat, { model: 'gpt-4o-mini', prompt: `a${i}`, messages: [] }, bearer('alice-secret'))).response);
    const limited = await unaryError(chat, { model: 'gpt-4o-mini', prompt: 'a5', messages: [] }, bearer('alice-secret'));
    expect(limited.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    const { calls, attempts, decisions } = await ledgerRows(h);
    expect(calls.map((c) => [c.method.split('/').pop(), c.key_name, c.code])).toEqual([
      ['Chat', 'erin', 'OK'],
      ['Fallback', 'erin', 'OK'],
      ['Race', 'erin', 'OK'],
      ['Chat', 'erin', 'OK'],
      ['Chat', 'erin', 'OK'],
      ['Chat', 'erin', 'OK'],
      ['Chat', 'erin', 'UNAVAILABLE'],
      ...Array.from({ length: 5 }, () => ['Chat', 'alice', 'OK']),
      ['Chat', 'alice', 'RESOURCE_EXHAUSTED'],
    ]);
    const [plain, fell, raced, miss, cacheHit, routed, fail] = calls;
    expect(plain).toMatchObject({ model: 'gpt-4o-mini', outcome: 'success', attempts: 1, fallback_triggered: 0, cache_hit: 0 });
    expect(fell).toMatchObject({ model: 'gpt-4o-mini', fallback_triggered: 1, attempts: 2, requested_model: 'gpt-4o,gpt-4o-mini' });
    expect(raced).toMatchObject({ model: 'gpt-4o-mini', attempts: 2 });
    expect(miss).toMatchObject({ cache_hit: 0, attempts: 1 });
    expect(cacheHit).toMatchObject({ cache_hit: 1, attempts: 0, cost_usd: 0 });
    expect(cacheHit?.cost_saved_usd).toBeCloseTo(miss?.cost_usd ?? -1, 10);
    expect(routed).toMatchObject({ route_profile: 'balanced' });
    expect(fail).toMatchObject({ outcome: 'error', reason: 'UPSTREAM_ERROR', attempts: 1 });
    expect(calls.at(-1)).toMatchObject({ outcome: 'error', reason: 'RATE_LIMITED', attempts: 0, cost_usd: 0 });
    // No message content unless LEDGER_CONTENT asks for it.
    expect(calls.every((c) => c.prompt === null && c.answer === null && c.prompt_sha256 === null)).toBe(true);

    const of = (id: string | undefined) => attempts.filter((a) => a.call_id === id).map((a) => [a.model, a.outcome, a.raced, a.lost]);
    expect(of(fell?.id)).toEqual([
      ['gpt-4o', 'failure', 0, 0],
      ['gpt-4o-mini', 'success', 0, 0],
    ]);
    expect(of(raced?.id)).toEqual([
      ['gpt-4-turbo', 'cancelled', 1, 1],
      ['gpt-4o-mini', 'success', 1, 0],
    ]);
    expect(of(cacheHit?.id)).toEqual([]);
    expect(of(fail?.id)).toEqual([['gpt-4o-mini', 'failure', 0, 0]]);
    expect(attempts.length).toBe(1 + 2 + 2 + 1 + 0 + 1 + 1 + 5);

    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ call_id: routed?.id, profile: 'balanced', chosen_model: routed?.model });
    expect(JSON.parse(decisions[0]?.candidates ?? '[]').length).toBeGreaterThan(1);

    // The ledger's sums are the answers' own: their cost, and the tokens of every attempt it pays for.
    const successes = calls.filter((c) => c.outcome === 'success');
    const cost = successes.reduce((s, c) => s + c.cost_usd, 0);
    expect(cost).toBeCloseTo(
      answers.reduce((s, a) => s + a.costUsd, 0),
      10,
    );
    const attemptTokens = answers.flatMap((a) => a.attempts).reduce((s, a) => s + (a.usage?.totalTokens ?? 0), 0);
    expect(successes.reduce((s, c) => s + c.total_tokens, 0)).toBe(attemptTokens);
    expect(cacheHit?.total_tokens).toBe(0);
  });

  it("GetUsage totals are the answers' own, per key for a key, for everyone for an admin", async () => {
    await h.app.ledger.store?.flush();
    const getUsage = usage.getUsage.bind(usage);
    const mine = (await callUnary(getUsage, { groupBy: [], pageSize: 0, pageToken: '' }, bearer('alice-secret'))).response.rows;
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ requests: 6, successful: 5, errorsByCode: { RESOURCE_EXHAUSTED: 1 } });
    const refused = await unaryError(
      getUsage,
      { groupBy: [], pageSize: 0, pageToken: '', filter: filter({ keyName: 'erin' }) },
      bearer('alice-secret'),
    );
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);

    const all = (
      await callUnary(
        getUsage,
        { groupBy: [UsageGroup.USAGE_GROUP_KEY, UsageGroup.USAGE_GROUP_MODEL], pageSize: 0, pageToken: '' },
        bearer('root-secret'),
      )
    ).response.rows;
    const { calls } = await ledgerRows(h);
    expect(all.reduce((n, r) => n + r.requests, 0)).toBe(calls.length);
    expect(all.reduce((n, r) => n + r.costUsd, 0)).toBeCloseTo(
      calls.reduce((n, c) => n + c.cost_usd, 0),
      10,
    );
    const erinMini = all.find((r) => r.keyName === 'erin' && r.model === 'gpt-4o-mini');
    expect(erinMini?.cacheHitRate).toBeGreaterThan(0);
    expect(erinMini?.costSavedUsd).toBeGreaterThan(0);
    expect(erinMini?.latency?.p99Ms).toBeGreaterThanOrEqual(erinMini?.latency?.p50Ms ?? Infinity);
    const total = (await callUnary(getUsage, { groupBy: [], pageSize: 0, pageToken: '' }, bearer('root-secret'))).response.rows[0];
    totalsSeen.requests = total?.requests ?? -1;
    totalsSeen.costUsd = total?.costUsd ?? -1;
    totalsSeen.totalTokens = total?.totalTokens ?? -1;
    expect(total?.fallbackRate).toBeCloseTo(1 / calls.length, 10);
  });

  it('ListCalls pages newest first with attempts and the routing decision', async () => {
    const list = usage.listCalls.bind(usage);
    const first = (await callUnary(list, { requestId: '', pageSize: 4, pageToken: '' }, bearer('root-secret'))).response;
    expect(first.calls).toHaveLength(4);
    expect(first.calls[0]).toMatchObject({ keyName: 'alice', code: 8, reason: 'RATE_LIMITED' });
    const times = first.calls.map((c) => (c.time?.seconds ?? 0) * 1000 + (c.time?.nanos ?? 0) / 1e6);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    let token = first.nextPageToken;
    let seen = first.calls.length;
    while (token) {
      const page = (await callUnary(list, { requestId: '', pageSize: 4, pageToken: token }, bearer('root-secret'))).response;
      seen += page.calls.length;
      token = page.nextPageToken;
    }
    expect(seen).toBe(totalsSeen.requests);
    const raced = (
      await callUnary(
        list,
        { requestId: '', pageSize: 50, pageToken: '', filter: filter({ method: '/orchestrator.v1.ChatService/Race' }) },
        bearer('root-secret'),
      )
    ).response.calls;
    expect(raced[0]?.attempts.map((a) => [a.model, a.lost])).toEqual([
      ['gpt-4-turbo', true],
      ['gpt-4o-mini', false],
    ]);
    const routed = (await callUnary(list, { requestId: '', pageSize: 50, pageToken: '' }, bearer('root-secret'))).response.calls.find(
      (c) => c.routeDecision,
    );
    expect(routed?.routeDecision?.chosenModel).toBeTruthy();
    // Latencies to the microsecond, as the answers and GetUsage give them (not 166.52993599999172).
    const all = (await callUnary(list, { requestId: '', pageSize: 50, pageToken: '' }, bearer('root-secret'))).response.calls;
    const latencies = all.flatMap((c) => [c.latencyMs, ...c.attempts.map((a) => a.latencyMs)]);
    expect(latencies.filter((ms) => Math.round(ms * 1000) / 1000 !== ms)).toEqual([]);
    const bad = await unaryError(list, { requestId: '', pageSize: 0, pageToken: 'nope' }, bearer('root-secret'));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("ListCalls refuses a page token with another filter than its page's, and takes another page size", async () => {
    const list = usage.listCalls.bind(usage);
    const erin = filter({ keyName: 'erin' });
    const first = (await callUnary(list, { requestId: '', pageSize: 2, pageToken: '', filter: erin }, bearer('root-secret'))).response;
    const token = first.nextPageToken;
    expect(token).not.toBe('');
    const resized = (await callUnary(list, { requestId: '', pageSize: 50, pageToken: token, filter: erin }, bearer('root-secret')))
      .response;
    expect(resized.calls.length).toBeGreaterThan(0);
    expect(resized.calls.every((c) => c.keyName === 'erin')).toBe(true);
    const others: { filter?: UsageFilter; successful?: boolean; requestId?: string }[] = [
      { filter: filter({ keyName: 'alice' }) },
      { filter: filter({}) },
      { filter: filter({ keyName: 'erin', model: 'gpt-4o-mini' }) },
      { filter: { ...erin, startTime: { seconds: Math.floor(Date.now() / 1000) - 3600, nanos: 0 } } },
      { filter: erin, successful: true },
      { filter: erin, requestId: 'some-id' },
    ];
    for (const other of others) {
      const err = await unaryError(list, { requestId: '', pageSize: 2, pageToken: token, filter: erin, ...other }, bearer('root-secret'));
      expect(err.code, JSON.stringify(other)).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['page_token']);
    }
    // A key's own listing is bound to its key: another key cannot page on from it.
    const mine = (await callUnary(list, { requestId: '', pageSize: 2, pageToken: '' }, bearer('alice-secret'))).response;
    expect(mine.nextPageToken).not.toBe('');
    expect(
      (await callUnary(list, { requestId: '', pageSize: 2, pageToken: mine.nextPageToken }, bearer('alice-secret'))).response.calls,
    ).not.toEqual([]);
    const theirs = await unaryError(list, { requestId: '', pageSize: 2, pageToken: mine.nextPageToken }, bearer('erin-secret'));
    expect(theirs.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('GetRoutingAnalytics: the routed call under its profile, over a time range too', async () => {
    const analytics = async (f: Partial<UsageFilter>) =>
      (await callUnary(usage.getRoutingAnalytics.bind(usage), { filter: filter(f) }, bearer('root-secret'))).response.profiles;
    const seconds = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: 0 });
    const all = await analytics({});
    expect(all).toHaveLength(1);
    const balanced = all[0]!;
    expect(balanced).toMatchObject({ profile: 2, decisions: 1 });
    expect(balanced.models).toEqual([expect.objectContaining({ chosen: 1, chosenShare: 1, successRate: 1, fallbackRate: 0 })]);
    // The same with a time range around the calls, and nothing for a range before them.
    expect(await analytics({ startTime: seconds(Date.now() - 3_600_000), endTime: seconds(Date.now() + 60_000) })).toEqual(all);
    expect(await analytics({ startTime: seconds(Date.now() - 7_200_000), endTime: seconds(Date.now() - 3_600_000) })).toEqual([]);
  });

  it('a restart keeps everything', async () => {
    usage.close();
    await h.close();
    h = await startHarness({ latencyScale: 1, env });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    const total = (await callUnary(usage.getUsage.bind(usage), { groupBy: [], pageSize: 0, pageToken: '' }, bearer('root-secret'))).response
      .rows[0];
    expect(total).toMatchObject({ requests: totalsSeen.requests, totalTokens: totalsSeen.totalTokens });
    expect(total?.costUsd).toBeCloseTo(totalsSeen.costUsd, 10);
  });

  it('the CLI prints usage and calls as tables', async () => {
    const run = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const code = await runLedgerCommand(
        argv,
        { LLMO_ADDR: `127.0.0.1:${h.app.port}`, LLMO_API_KEY: 'root-secret' },
        (t) => (out += t),
        (t) => (err += t),
      );
      return { code, out, err };
    };
    const usageRun = await run('usage', '--group-by', 'key');
    expect(usageRun.code).toBe(0);
    const lines = usageRun.out.trim().split('\n');
    expect(lines[0]).toMatch(/^key\s+requests\s+errors\s+tokens\s+cached\s+cache_write\s+reasoning\s+cost_usd\s+p50_ms/);
    expect(lines.find((l) => l.startsWith('alice'))).toMatch(/^alice\s+6\s+RESOURCE_EXHAUSTED:1\s/);
    const callsRun = await run('calls', '--limit', '2', '--key', 'alice');
    expect(callsRun.code).toBe(0);
    const rows = callsRun.out.trim().split('\n');
    expect(rows).toHaveLength(2 + 1 + 1);
    expect(rows[1]).toContain('RESOURCE_EXHAUSTED RATE_LIMITED');
    expect((await run('usage', '--group-by', 'colour')).code).toBe(2);
    const denied = await runLedgerCommand(
      ['calls', '--key', 'erin'],
      { LLMO_ADDR: `127.0.0.1:${h.app.port}`, LLMO_API_KEY: 'alice-secret' },
      () => undefined,
      () => undefined,
    );
    expect(denied).toBe(1);
  });
});

describe('UsageService with the database off (DATABASE_URL=off)', () => {
  let h: Harness;
  let client: UsageServiceClient;
  beforeAll(async () => {
    h = await startHarness({ env: { DATABASE_URL: 'off' } });
    client = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await h?.close();
  });

  it('answers FAILED_PRECONDITION (LEDGER_UNAVAILABLE), not retryable, as the service comment says', async () => {
    for (const call of [
      () => unaryError(client.getUsage.bind(client), { groupBy: [], pageSize: 0, pageToken: '' }),
      () => unaryError(client.listCalls.bind(client), { requestId: '', pageSize: 0, pageToken: '' }),
    ]) {
      const err = await call();
      expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err.decoded.errorInfo?.reason).toBe('LEDGER_UNAVAILABLE');
    }
    const proto = readFileSync('proto/orchestrator/v1/usage.proto', 'utf8');
    const comment = proto.slice(0, proto.indexOf('service UsageService')).split('\n// The ledger:')[1] ?? '';
    expect(comment).not.toMatch(/UNAVAILABLE while[^.]*DATABASE_URL=off/);
    expect(comment).toMatch(/FAILED_PRECONDITION[^.]*DATABASE_URL=off/);
  });
});

describe('shutdown', () => {
  it('writes what the queue holds within the grace period, even before the next flush is due', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-stop-')), 'ledger.db');
    const env = { DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '60000' };
    const first = await startHarness({ env });
    const chat = first.clients.chat.chat.bind(first.clients.chat);
    for (let i = 0; i < 3; i += 1) await callUnary(chat, { model: 'gpt-4o-mini', prompt: `q${i}`, messages: [] });
    expect(first.app.ledger.store?.queued).toBe(3);
    // The flush at stop is the ledger's first write: it starts the writer thread, from source under
    // tsx here, which takes about a second on a busy machine. A grace period well past that, and
    // still far short of the 60 s flush; stop returns once the queue is written.
    await first.close(10_000);
    const second = await startHarness({ env });
    try {
      const rows = await second.app.ledger.database()?.db.selectFrom('ledger_calls').select('id').execute();
      expect(rows).toHaveLength(3);
    } finally {
      await second.close();
    }
  });
});

describe('reading a large SQLite ledger', () => {
  const CALLS = 100_000;
  let h: Harness;
  let usage: UsageServiceClient;
  /** Each key's p50 and p99 over the calls written (nearest rank). */
  const expected: [number, number, number][] = [];
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-large-')), 'ledger.db');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}` } });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    // A month of routed calls at a few a minute, written straight into the file the gateway uses.
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    const call = db.prepare(
      `insert into ledger_calls (id, ts, request_id, method, protocol, key_name, requested_model, model, provider, outcome, code,
         prompt_tokens, completion_tokens, total_tokens, usage_estimated, cost_usd, cost_saved_usd, latency_ms, attempts,
         fallback_triggered, default_message, cache_hit, cache_stale)
       values (?, ?, ?, '/orchestrator.v1.ChatService/Chat', 'grpc', ?, 'route:balanced', 'gpt-4o-mini', 'openai', 'success', 'OK',
         10, 20, 30, 0, 0.001, 0, ?, 1, 0, 0, 0, 0)`,
    );
    const decision = db.prepare(
      `insert into ledger_decisions (call_id, ts, seq, profile, complexity, prompt_tokens, chosen_model, candidates)
       values (?, ?, 0, 'balanced', 'simple', 10, 'gpt-4o-mini', '[]')`,
    );
    const start = Date.now() - 30 * 86_400_000;
    const latencies: number[][] = [[], [], [], [], []];
    db.transaction(() => {
      for (let i = 0; i < CALLS; i += 1) {
        const id = `call-${String(i).padStart(7, '0')}`;
        const ts = start + i * 25_000;
        const latency = ((i * 7_919) % 1_000) + (i % 5) * 0.25;
        call.run(id, ts, id, `key-${i % 5}`, latency);
        decision.run(id, ts);
        latencies[i % 5]?.push(latency);
      }
    })();
    db.close();
    for (const l of latencies) {
      l.sort((a, b) => a - b);
      expected.push([l.length, l[Math.ceil(l.length * 0.5) - 1] ?? -1, l[Math.ceil(l.length * 0.99) - 1] ?? -1]);
    }
  }, 60_000);
  afterAll(async () => {
    usage?.close();
    await h?.close();
  });

  /** The longest the gateway's event loop went without running a timer while `read` ran. */
  async function longestStall(read: () => Promise<unknown>): Promise<number> {
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    try {
      await read();
      return Math.max(longest, performance.now() - last);
    } finally {
      clearInterval(ticker);
    }
  }

  it('GetUsage and GetRoutingAnalytics over every call answer without holding the event loop', async () => {
    const getUsage = usage.getUsage.bind(usage);
    const analytics = usage.getRoutingAnalytics.bind(usage);
    // A first read (a page of one call) has the gateway ready to read; then the reads over every call.
    await callUnary(usage.listCalls.bind(usage), { requestId: '', pageSize: 1, pageToken: '' });
    let rows: GetUsageResponse['rows'] = [];
    const usageStall = await longestStall(async () => {
      rows = (await callUnary(getUsage, { groupBy: [UsageGroup.USAGE_GROUP_KEY], pageSize: 0, pageToken: '' })).response.rows;
    });
    expect(rows.map((r) => [r.requests, r.latency?.p50Ms, r.latency?.p99Ms])).toEqual(expected);
    let decisions = 0;
    const analyticsStall = await longestStall(async () => {
      decisions = (await callUnary(analytics, {})).response.profiles[0]?.decisions ?? 0;
    });
    expect(decisions).toBe(CALLS);
    // Each read takes hundreds of milliseconds; calls on the gateway meanwhile must not wait for it.
    const stalls = `the event loop held ${Math.round(usageStall)} ms by GetUsage, ${Math.round(analyticsStall)} ms by GetRoutingAnalytics`;
    expect(Math.max(usageStall, analyticsStall), stalls).toBeLessThan(150);
  }, 60_000);
});
