import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * An HTTP refusal quotes the client's own text (a model, a role, a field name); its body is held
 * to a few KB whatever that text's size, as a gRPC status is, instead of repeating it in full in
 * the message, `param` and each field violation.
 */
describe('HTTP error bodies that quote the request', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('are bounded, and still name the field and what is wrong with it', async () => {
    const long = 'M'.repeat(100_000);
    const cases = [
      { path: 'embeddings', body: { model: long, input: 'x' }, param: 'model' },
      { path: 'chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: long, content: 'x' }] }, param: 'messages[0].role' },
      { path: 'chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], [long]: 1 }, param: 'M' },
    ];
    for (const c of cases) {
      const res = await fetch(`${h.app.http!.url}/v1/${c.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(c.body),
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const text = await res.text();
      expect(Buffer.byteLength(text)).toBeLessThan(8_192);
      const { error } = JSON.parse(text) as { error: { message: string; param: string | null; field_violations?: { field: string }[] } };
      expect(error.message.length).toBeGreaterThan(10);
      expect(error.param?.startsWith(c.param)).toBe(true);
    }
  });
});
