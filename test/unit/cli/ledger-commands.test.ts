import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLedgerCommand } from '../../../src/cli/ledger-commands.js';
import {
  GetUsageResponse,
  type GetUsageRequest,
  ListCallsResponse,
  type ListCallsRequest,
  UsageGroup,
  UsageServiceService,
  type UsageServiceServer,
} from '../../../src/gen/orchestrator/v1/usage.js';
import { startScriptedGateway, type ScriptedGateway } from '../../helpers/scripted-gateway.js';

/** `usage` and `calls` against a scripted UsageService: what they send, and how they print what comes back. */
let gateway: ScriptedGateway;
const received: { usage: GetUsageRequest[]; calls: ListCallsRequest[] } = { usage: [], calls: [] };

const PERIOD_START = '2026-03-04T05:06:07Z';

beforeAll(async () => {
  const impl: UsageServiceServer = {
    getUsage: (call, callback) => {
      received.usage.push(call.request);
      // Grouped by provider, the rows come in two pages.
      if (call.request.groupBy.includes(UsageGroup.USAGE_GROUP_PROVIDER)) {
        const second = call.request.pageToken === 'after-a';
        const page = second
          ? { rows: [{ provider: 'b', requests: 2 }] }
          : { rows: [{ provider: 'a', requests: 1 }], nextPageToken: 'after-a' };
        callback(null, GetUsageResponse.fromJSON(page));
        return;
      }
      callback(
        null,
        GetUsageResponse.fromJSON({
          rows: [
            {
              periodStart: PERIOD_START,
              model: 'gpt-4o',
              requests: 3,
              totalTokens: 42,
              cachedTokens: 30,
              cacheWriteTokens: 5,
              reasoningTokens: 7,
              costUsd: 0.5,
            },
          ],
        }),
      );
    },
    listCalls: (call, callback) => {
      received.calls.push(call.request);
      const detailed = {
        requestId: 'r-detail',
        time: PERIOD_START,
        method: '/orchestrator.v1.ChatService/Chat',
        model: 'o3',
        usage: { promptTokens: 400, completionTokens: 20, totalTokens: 420, cachedTokens: 100, cacheWriteTokens: 250, reasoningTokens: 8 },
        costUsd: 0.25,
        latencyMs: 12,
      };
      const scripted: Record<string, object> = {
        'r-detail': { calls: [detailed] },
        // Any caller names the model it asks for: a failed call keeps the name as sent.
        'r-wide': {
          calls: [
            { requestId: 'r-wide', time: PERIOD_START, requestedModel: '日本語モデル', code: 'NOT_FOUND' },
            { requestId: 'r-wide', time: PERIOD_START, model: 'gpt-4o-mini' },
          ],
        },
        'r-controls': { calls: [{ requestId: 'r-controls', time: PERIOD_START, requestedModel: 'bad\nmodel\u001b[31mred\u009b' }] },
      };
      callback(null, ListCallsResponse.fromJSON(scripted[call.request.requestId] ?? {}));
    },
    getRoutingAnalytics: (_call, callback) => callback(null, { profiles: [] }),
  };
  gateway = await startScriptedGateway([[UsageServiceService, impl]]);
});

afterAll(async () => {
  await gateway?.close();
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runLedgerCommand(
    argv,
    { LLMO_ADDR: gateway.address },
    (t) => (out += t),
    (t) => (err += t),
  );
  return { code, out, err };
}

describe('llm-orchestrator usage and calls', () => {
  it('calls --failed asks for the failed calls only; without it, for every call', async () => {
    received.calls.length = 0;
    expect((await run('calls', '--failed')).code).toBe(0);
    expect((await run('calls')).code).toBe(0);
    expect(received.calls.map((r) => r.successful)).toEqual([false, undefined]);
  });

  it('--since counts back from now', async () => {
    received.calls.length = 0;
    const before = Math.floor(Date.now() / 1000);
    expect((await run('calls', '--since', '2h')).code).toBe(0);
    const start = received.calls[0]?.filter?.startTime?.seconds ?? 0;
    expect(start).toBeGreaterThanOrEqual(before - 7_200 - 1);
    expect(start).toBeLessThanOrEqual(before - 7_200 + 2);
  });

  it('--since keeps the milliseconds of the moment it counts back to', async () => {
    received.usage.length = 0;
    const before = Date.now();
    expect((await run('usage', '--since', '1500ms')).code).toBe(0);
    const after = Date.now();
    const sent = received.usage[0]?.filter?.startTime;
    const start = (sent?.seconds ?? 0) * 1000 + (sent?.nanos ?? 0) / 1e6;
    expect(start).toBeGreaterThanOrEqual(before - 1_500);
    expect(start).toBeLessThanOrEqual(after - 1_500);
  });

  it('sends each filter in its own field', async () => {
    received.usage.length = 0;
    const result = await run('usage', '--key', 'alice', '-m', 'gpt-4o', '--provider', 'openai', '--method', 'Race');
    expect(result.code).toBe(0);
    expect(received.usage[0]?.filter).toMatchObject({
      keyName: 'alice',
      model: 'gpt-4o',
      provider: 'openai',
      method: '/orchestrator.v1.ChatService/Race',
    });
  });

  it('calls --limit takes 1 to 500 and sends it as the page size', async () => {
    received.calls.length = 0;
    expect((await run('calls', '--limit', '500')).code).toBe(0);
    expect(received.calls[0]?.pageSize).toBe(500);
    for (const limit of ['0', '501', '2.5']) {
      const refused = await run('calls', '--limit', limit);
      expect([limit, refused.code, refused.out]).toEqual([limit, 2, '']);
      expect(refused.err).toContain('--limit: a whole number from 1 to 500');
    }
    expect(received.calls).toHaveLength(1);
  });

  it('usage --group-by day,model prints the day and the model of each row', async () => {
    received.usage.length = 0;
    const result = await run('usage', '--group-by', 'day,model');
    expect(result.code).toBe(0);
    expect(received.usage[0]?.groupBy).toEqual([UsageGroup.USAGE_GROUP_DAY, UsageGroup.USAGE_GROUP_MODEL]);
    const [head, row] = result.out.trim().split('\n');
    expect(head).toMatch(/^day {9}model {3}requests {2}errors {2}tokens {2}cached {2}cache_write {2}reasoning {2}cost_usd/);
    expect(row).toMatch(/^2026-03-04 {2}gpt-4o {2}3 {9}0 {7}42 {6}30 {6}5 {12}7 {10}0\.500000 /);
    const hourly = await run('usage', '--group-by', 'hour');
    expect(hourly.out.trim().split('\n')[1]).toMatch(/^2026-03-04 05h {2}3 /);
  });

  it('usage follows next_page_token and prints the rows of every page, as a table and as JSON', async () => {
    received.usage.length = 0;
    const result = await run('usage', '--group-by', 'provider');
    expect(received.usage.map((r) => r.pageToken)).toEqual(['', 'after-a']);
    expect(
      result.out
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/ +/).slice(0, 2)),
    ).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    const json = await run('usage', '--group-by', 'provider', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ rows: [{ provider: 'a' }, { provider: 'b' }] });
    expect(JSON.parse(json.out).nextPageToken).toBeUndefined();
  });

  it("calls prints a call's cached, cache-write and reasoning tokens beside its tokens", async () => {
    const result = await run('calls', '--request-id', 'r-detail');
    expect(result.code).toBe(0);
    const [head, row] = result.out.trim().split('\n');
    expect(head).toMatch(/ code {2}tokens {2}cached {2}cache_write {2}reasoning {2}cost_usd /);
    expect(row).toMatch(/ OK {4}420 {5}100 {5}250 {10}8 {10}0\.250000 /);
  });

  it("calls prints a model name's control characters escaped: one line per call, nothing the terminal would obey", async () => {
    const result = await run('calls', '--request-id', 'r-controls');
    expect(result.code).toBe(0);
    const lines = result.out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('  bad\\nmodel\\x1b[31mred\\x9b  ');
    expect(result.out.replaceAll('\n', '')).not.toMatch(/\p{Cc}/u);
  });

  it('calls lines its columns up under wide characters, each taking two columns of the terminal', async () => {
    const result = await run('calls', '--request-id', 'r-wide');
    const [head, wide, narrow] = result.out.trimEnd().split('\n');
    // 日本語モデル is as wide as 12 ASCII characters, a column wider than gpt-4o-mini.
    expect(head).toMatch(/ {2}model {9}code /);
    expect(wide).toContain('  日本語モデル  NOT_FOUND ');
    expect(narrow).toContain('  gpt-4o-mini   OK ');
  });

  it('refuses an option of the other command rather than ignore it', async () => {
    received.usage.length = 0;
    received.calls.length = 0;
    const cases = [
      [['usage', '--failed'], '--failed does not apply to usage (only to calls)'],
      [['usage', '--limit', '5'], '--limit does not apply to usage (only to calls)'],
      [['usage', '--request-id', 'r1'], '--request-id does not apply to usage (only to calls)'],
      [['calls', '--group-by', 'model'], '--group-by does not apply to calls (only to usage)'],
      [['usage', '--group-by', ' , '], '--group-by: " , " names no group (key,model,...)'],
      [['usage', '--timeout', '0.0001ms'], '--timeout must be at least 1ms (got "0.0001ms")'],
      [['calls', '--addr', ''], '--addr: empty: give HOST:PORT (default 127.0.0.1:50051)'],
    ] as const;
    for (const [argv, message] of cases) {
      const result = await run(...argv);
      expect([argv, result.code, result.out]).toEqual([argv, 2, '']);
      expect(result.err).toContain(message);
    }
    expect([received.usage, received.calls]).toEqual([[], []]);
  });
});
