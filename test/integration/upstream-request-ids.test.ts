import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { captureLines } from '../helpers/log-lines.js';

/**
 * Each upstream names its requests (OpenAI and OpenAI-compatible servers in `x-request-id`,
 * Anthropic in `request-id`; the simulator sends both ways): a failed attempt keeps that name,
 * so an operator can hand the failure to the provider's support.
 */

const { lines, sink } = captureLines();

let h: Harness;
let claude: Simulator;
beforeAll(async () => {
  claude = await startSimulator({ latencyScale: 0 });
  const file = writeConfigFile(`providers:
  - { name: claude, kind: anthropic, base_url: "${claude.url}", api_key_env: CLAUDE_KEY }
models:
  - { id: claude-test, provider: claude, upstream_id: "claude-test", context_window: 200000, max_output_tokens: 4096, input_price_per_million: 3, output_price_per_million: 15, family: claude, tier: large, quality: 0.9 }
`);
  // Every test fails gpt-4o on purpose: its breaker must not open and skip it.
  const breakers = { BREAKER_CONSECUTIVE_FAILURES: '1000', BREAKER_FAILURE_RATE: '0' };
  h = await startHarness({ env: { CONFIG_FILE: file, ...breakers }, processEnv: { CLAUDE_KEY: 'k' }, log: createLogger('info', sink) });
});
afterAll(async () => {
  await h?.close();
  await claude?.close();
});
beforeEach(() => {
  h.upstream.clearFaults();
  claude.clearFaults();
});

const chat = () => h.clients.chat.chat.bind(h.clients.chat);
const fallback = () => h.clients.chat.fallback.bind(h.clients.chat);

/** The id the simulator gave its last request, as the provider's header carried it. */
const openaiId = (): string => `sim-${h.upstream.requests.at(-1)?.id}`;
const anthropicId = (): string => `req_sim_${claude.requests.at(-1)?.id}`;

/** The call line of the call with this request id, once written. */
async function callLine(requestId: string): Promise<Record<string, unknown>> {
  const find = async () => lines.find((l) => l.msg === 'call' && l.requestId === requestId);
  const line = await eventually(find, (l) => l !== undefined);
  expect(line).toBeDefined();
  return line!;
}

describe("a failed call names the upstream's own request id", () => {
  it('OpenAI, unary: an HTTP error status', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    const err = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: { 'x-request-id': 'oa-unary' } });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    const id = openaiId();
    expect(id).toMatch(/^sim-\d+$/);
    expect(err.decoded.errorInfo?.metadata).toMatchObject({ upstream_request_id: id });
    expect(await callLine('oa-unary')).toMatchObject({ code: 'UNAVAILABLE', upstreamRequestIds: [`gpt-4o:${id}`] });
  });

  it('OpenAI, stream: a cut after the first tokens', async () => {
    h.upstream.injectFault({ kind: 'cut', afterTokens: 2, model: 'gpt-4o' });
    const md = new grpc.Metadata();
    md.set('x-request-id', 'oa-stream');
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'hi' }), md));
    expect(streamed.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(streamed.error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    const id = openaiId();
    expect(streamed.error?.decoded.errorInfo?.metadata.upstream_request_id).toBe(id);
    expect(await callLine('oa-stream')).toMatchObject({ upstreamRequestIds: [`gpt-4o:${id}`] });
  });

  it('Anthropic, unary: an HTTP error status', async () => {
    claude.injectFault({ kind: 'http_error', status: 529, model: 'claude-test' });
    const err = await unaryError(
      chat(),
      { model: 'claude-test', prompt: 'hi', messages: [] },
      { metadata: { 'x-request-id': 'an-unary' } },
    );
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    const id = anthropicId();
    expect(err.decoded.errorInfo?.metadata.upstream_request_id).toBe(id);
    expect(await callLine('an-unary')).toMatchObject({ upstreamRequestIds: [`claude-test:${id}`] });
  });

  it('Anthropic, stream: a cut after the first tokens', async () => {
    claude.injectFault({ kind: 'cut', afterTokens: 2, model: 'claude-test' });
    const md = new grpc.Metadata();
    md.set('x-request-id', 'an-stream');
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-test', prompt: 'hi' }), md));
    expect(streamed.error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    const id = anthropicId();
    expect(streamed.error?.decoded.errorInfo?.metadata.upstream_request_id).toBe(id);
    expect(await callLine('an-stream')).toMatchObject({ upstreamRequestIds: [`claude-test:${id}`] });
  });

  it('several models failed: each failed attempt by model, in order', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o' });
    claude.injectFault({ kind: 'http_error', status: 500, model: 'claude-test' });
    const err = await unaryError(
      fallback(),
      { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'claude-test'], disableDefaultMessage: true },
      { metadata: { 'x-request-id': 'both' } },
    );
    expect(err.decoded.errorInfo?.reason).toBe('ALL_ATTEMPTS_FAILED');
    const ids = [`gpt-4o:${openaiId()}`, `claude-test:${anthropicId()}`];
    expect(err.decoded.errorInfo?.metadata.upstream_request_ids).toBe(ids.join(','));
    expect(await callLine('both')).toMatchObject({ upstreamRequestIds: ids });
  });

  it('a call that succeeded after a failed attempt logs that attempt', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    const md = new grpc.Metadata();
    md.set('x-request-id', 'then-fine');
    await new Promise<void>((resolve, reject) =>
      h.clients.chat.fallback(
        { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'claude-test'], disableDefaultMessage: true } as never,
        md,
        (e) => (e ? reject(e) : resolve()),
      ),
    );
    expect(await callLine('then-fine')).toMatchObject({ code: 'OK', model: 'claude-test', upstreamRequestIds: [`gpt-4o:${openaiId()}`] });
  });

  it("a gRPC answer names it on the failed attempt, as the HTTP API's attempts do", async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    const { response } = await callUnary(fallback(), {
      model: '',
      prompt: 'hi',
      messages: [],
      models: ['gpt-4o', 'claude-test'],
      disableDefaultMessage: true,
    });
    expect(response.attempts.map((a) => [a.model, a.upstreamRequestId])).toEqual([
      ['gpt-4o', openaiId()],
      ['claude-test', ''],
    ]);
  });

  it("the HTTP API's error body names it on each attempt", async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { attempts: { model: string; upstream_request_id?: string }[] } };
    expect(body.error.attempts).toEqual([expect.objectContaining({ model: 'gpt-4o', upstream_request_id: openaiId() })]);
  });

  it('a successful call logs none', async () => {
    const md = new grpc.Metadata();
    md.set('x-request-id', 'fine');
    await new Promise<void>((resolve, reject) =>
      h.clients.chat.chat({ model: 'gpt-4o', prompt: 'hi', messages: [] } as never, md, (e) => (e ? reject(e) : resolve())),
    );
    expect(await callLine('fine')).not.toHaveProperty('upstreamRequestIds');
  });
});
