import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { connect } from '../../src/store/database.js';
import { checkBatchDecisions, checkDecisionsUpgrade } from '../helpers/ledger-decisions.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('routing analytics from the ledger', () => {
  let h: Harness;
  let usage: UsageServiceClient;
  beforeAll(async () => {
    h = await startHarness({ env: { LEDGER_FLUSH_MS: '20', RETRY_MAX_ATTEMPTS: '1' } });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    usage?.close();
    await h?.close();
  });

  const anyFilter = { keyName: '', model: '', provider: '', method: '' };

  it("count each routed item of a Batch as a decision of its own, with the item's own outcome", async () => {
    await checkBatchDecisions(h, usage);
  });

  it('count a routed call that failed as a decision whose choice did not succeed', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const routed = {
      model: '',
      prompt: 'route me',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates: ['gpt-4o-mini'] },
    };
    h.upstream.injectFault({ kind: 'http_error', status: 500 });
    expect((await unaryError(chat, routed)).code).not.toBe(grpc.status.OK);
    h.upstream.clearFaults();
    await callUnary(chat, routed);
    await h.app.ledger.store?.flush();
    const profiles = (
      await callUnary(usage.getRoutingAnalytics.bind(usage), { filter: { ...anyFilter, method: '/orchestrator.v1.ChatService/Chat' } })
    ).response.profiles;
    expect(profiles).toHaveLength(1);
    expect(profiles[0]).toMatchObject({ decisions: 2 });
    expect(profiles[0]?.models).toEqual([expect.objectContaining({ model: 'gpt-4o-mini', chosen: 2, successRate: 0.5 })]);
  });

  it('record a routed Chat and a routed StreamChat whose chosen model failed once each, as a choice that fell back', async () => {
    const route = { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: ['gpt-4o', 'gpt-4o-mini'] };
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const first = (await callUnary(chat, { model: '', prompt: 'which one', messages: [], route })).response;
    const chosen = first.routeDecision?.chosenModel ?? '';
    const other = chosen === 'gpt-4o' ? 'gpt-4o-mini' : 'gpt-4o';
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: chosen, times: 1 });
    const fellBack = (await callUnary(chat, { model: '', prompt: 'which one', messages: [], route })).response;
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: chosen, times: 1 });
    const { messages } = await collectStream<StreamChatResponse>(h.clients.chat.streamChat(streamRequest({ prompt: 'which one', route })));
    h.upstream.clearFaults();
    const completed = messages.flatMap((m) => (m.event?.$case === 'completed' ? [m.event.completed] : []))[0];
    await h.app.ledger.store?.flush();
    const listed = (
      await callUnary(usage.listCalls.bind(usage), {
        filter: { ...anyFilter, keyName: '' },
        requestId: '',
        pageSize: 3,
        pageToken: '',
      })
    ).response.calls.reverse();
    expect(listed.map((c) => [c.method.split('/').pop(), c.model, c.routeDecision?.chosenModel, c.itemDecisions.length])).toEqual([
      ['Chat', first.model, chosen, 0],
      ['Chat', fellBack.model, fellBack.routeDecision?.chosenModel, 0],
      ['StreamChat', completed?.model, completed?.routeDecision?.chosenModel, 0],
    ]);
    expect([fellBack.model, completed?.model]).toEqual([other, other]);
    const speed = (await callUnary(usage.getRoutingAnalytics.bind(usage), { filter: anyFilter })).response.profiles.find(
      (p) => p.profile === RoutingProfile.ROUTING_PROFILE_SPEED,
    );
    expect(Number(speed?.decisions)).toBe(3);
  });

  it('keep the decision the caller got: every candidate with the scores and estimates the answer listed', async () => {
    const route = { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-nano'] };
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const answered = (await callUnary(chat, { model: '', prompt: 'rank us', messages: [], route })).response;
    expect(answered.routeDecision?.ranking.some((r) => r.ttft > 0 && r.expectedTtftMs > 0)).toBe(true);
    await h.app.ledger.store?.flush();
    const [listed] = (await callUnary(usage.listCalls.bind(usage), { requestId: answered.requestId, pageSize: 1, pageToken: '' })).response
      .calls;
    expect(listed?.routeDecision).toEqual(answered.routeDecision);
  });
});

describe('a SQLite ledger from before Batch items had decisions of their own', () => {
  it('upgrades: its decisions are kept and read as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-upgrade-'));
    const database = connect({ kind: 'sqlite', file: join(dir, 'ledger.db') });
    try {
      await checkDecisionsUpgrade(database);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
