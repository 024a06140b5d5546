import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const request = (models: string[]) => ({ model: '', prompt: 'hi', messages: [], models, disableDefaultMessage: false });

describe('a Fallback every model of which refused the request upstream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());

  it('fails with INVALID_ARGUMENT listing the refusals, not the default message that would fail the same way', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 400 });
    const err = await unaryError(h.clients.chat.fallback.bind(h.clients.chat), request(['gpt-4o', 'gpt-4o-mini']));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.errorInfo?.reason).toBe('ALL_ATTEMPTS_FAILED');
    expect(err.decoded.errorInfo?.metadata?.attempts).toBe(
      'gpt-4o:INVALID_ARGUMENT:UPSTREAM_REJECTED_REQUEST,gpt-4o-mini:INVALID_ARGUMENT:UPSTREAM_REJECTED_REQUEST',
    );
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
        orchestrator: { strategy: 'fallback', models: ['gpt-4o-mini'] },
      }),
    });
    expect(res.status).toBe(400);
  });

  it('still serves the default message when one of the failures is an outage', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 400, model: 'gpt-4o' });
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const { response } = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), request(['gpt-4o', 'gpt-4o-mini']));
    expect(response).toMatchObject({ isDefaultMessage: true, fallbackTriggered: true });
  });
});

describe('a Fallback none of whose models has a provider', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ noOpenAiShorthand: true });
  });
  afterAll(async () => h.close());

  it('fails with FAILED_PRECONDITION naming them, not the default message', async () => {
    const err = await unaryError(h.clients.chat.fallback.bind(h.clients.chat), request(['gpt-4o', 'gpt-4o-mini']));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.decoded.errorInfo?.metadata?.attempts).toBe(
      'gpt-4o:FAILED_PRECONDITION:MODEL_NOT_AVAILABLE,gpt-4o-mini:FAILED_PRECONDITION:MODEL_NOT_AVAILABLE',
    );
    expect(err.details).toContain('no provider is configured for gpt-4o');
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
        orchestrator: { strategy: 'fallback', models: ['gpt-4o-mini'] },
      }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe('ALL_ATTEMPTS_FAILED');
  });
});
