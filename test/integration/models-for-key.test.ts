import * as grpc from '@grpc/grpc-js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListModelsResponse } from '../../src/gen/orchestrator/v1/models.js';
import { accessFile } from '../helpers/access-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A key lists the models it may call, as OpenAI's /v1/models does for its keys: a model list a UI
 * builds its picker from offers nothing that a call would then refuse with 403.
 */
describe('listing models with an API key', () => {
  let h: Harness;
  const sdk = (apiKey: string) => new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey, maxRetries: 0 });
  const listed = (key: string): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${key}`);
      h.clients.models.listModels({ provider: '', availableOnly: false }, md, (err: grpc.ServiceError | null, res?: ListModelsResponse) =>
        err ? reject(err) : resolve((res?.models ?? []).map((m) => m.id)),
      );
    });
  beforeAll(async () => {
    h = await startHarness({ env: { CONFIG_FILE: accessFile() } });
  });
  afterAll(async () => h.close());

  it('shows a restricted key only what it may call, on both doors, and an open key everything', async () => {
    const all = await listed('erin-secret');
    expect(all).toContain('gpt-4o');
    const alice = await listed('alice-secret');
    expect(alice.length).toBeGreaterThan(0);
    expect(alice.every((id) => id === 'gpt-4o-mini' || id.startsWith('gpt-3.5'))).toBe(true);
    expect(alice).toContain('gpt-4o-mini');
    const overHttp = [];
    for await (const m of sdk('alice-secret').models.list()) overHttp.push(m.id);
    expect(overHttp).toEqual(alice);
    const openHttp = [];
    for await (const m of sdk('erin-secret').models.list()) openHttp.push(m.id);
    expect(openHttp).toEqual(all);
  });

  it('answers a model the key may not call as not found, one it may as the model', async () => {
    await expect(sdk('alice-secret').models.retrieve('gpt-4o')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await sdk('alice-secret').models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    expect((await sdk('erin-secret').models.retrieve('gpt-4o')).id).toBe('gpt-4o');
  });
});
