import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/ledger.md says a call's tokens and cost are those of every upstream attempt it paid for;
 * its ListCalls example is what a reader checks that against, so it must add up.
 */
const ROOT = join(import.meta.dirname, '../../..');
const page = readFileSync(join(ROOT, 'docs/ledger.md'), 'utf8');

interface Usage {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly totalTokens?: number;
}
interface Attempt {
  readonly usage?: Usage;
  readonly costUsd?: number;
}
interface Call extends Attempt {
  readonly attempts?: readonly Attempt[];
}

function listCallsExample(): { readonly calls: readonly Call[]; readonly nextPageToken?: string } {
  const block = /\$ buf curl [^\n]*-d '\{"pageSize":1\}'[^\n]*\n[^\n]*ListCalls\n(\{[\s\S]*?\n\})\n```/.exec(page);
  if (!block?.[1]) throw new Error('docs/ledger.md has no ListCalls example');
  return JSON.parse(block[1]);
}

describe("docs/ledger.md's ListCalls example", () => {
  const example = listCallsExample();

  it("shows each call's tokens and cost as the sum of its attempts'", () => {
    expect(example.calls.length).toBeGreaterThan(0);
    for (const call of example.calls) {
      const attempts = call.attempts ?? [];
      expect(attempts.length).toBeGreaterThan(1);
      for (const field of ['promptTokens', 'completionTokens', 'totalTokens'] as const) {
        expect(call.usage?.[field] ?? 0, field).toBe(attempts.reduce((sum, a) => sum + (a.usage?.[field] ?? 0), 0));
      }
      expect(call.costUsd).toBeCloseTo(
        attempts.reduce((sum, a) => sum + (a.costUsd ?? 0), 0),
        12,
      );
    }
  });

  it('shows the next page token a page of one call out of several carries', () => {
    expect(example.nextPageToken).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
