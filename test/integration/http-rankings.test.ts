import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

interface Ranking {
  prompt_tokens: number;
  chosen_model: string | null;
  ranking: { model: string; excluded_reason: string | null }[];
}
interface ErrorBody {
  error: { param: string | null; field_violations: { field: string }[] };
}

const rankings = (query: string) => fetch(`${h.app.http!.url}/v1/models/rankings?${query}`);

describe('GET /v1/models/rankings', () => {
  it('takes prompt_tokens, as RankModels does, for a prompt too long to send in a URL', async () => {
    const res = await rankings('profile=long_context&candidates=gpt-4o-mini,gpt-4.1&prompt_tokens=300000');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Ranking;
    expect(body.prompt_tokens).toBe(300_000);
    // 300,000 tokens fit gpt-4.1's window (about 1M) but not gpt-4o-mini's (128k).
    expect(body.chosen_model).toBe('gpt-4.1');
    expect(body.ranking.find((r) => r.model === 'gpt-4o-mini')?.excluded_reason).toMatch(/^context window /);
    for (const bad of ['0', '-5', '1.5', 'many', '']) {
      const refused = await rankings(`prompt_tokens=${bad}`);
      expect(refused.status, bad).toBe(400);
      expect(((await refused.json()) as ErrorBody).error.param, bad).toBe('prompt_tokens');
    }
  });

  it('refuses a query parameter it does not know instead of ranking as if it were not there', async () => {
    const res = await rankings('profile=speed&max_token=4000&promt=hi');
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.field_violations.map((v) => v.field)).toEqual(['max_token', 'promt']);
  });
});
