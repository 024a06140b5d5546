import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The docs' examples that start several gateways at once on one host (replicas, a TLS and an mTLS
 * server side by side) must run as written: every listener a second process opens with its
 * default port (HTTP_PORT 8080, METRICS_PORT 9464) would find it taken and stop start-up. So each
 * such command sets those ports itself, to 0 or to a port of its own.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'PERFORMANCE.md')
    .map((f) => `docs/${f}`),
];

/** The gateways a block starts in the background: one per `node dist/main.js &`, two for a `for p in A B` loop. */
function backgroundStarts(block: string): { readonly line: string; readonly count: number }[] {
  return block
    .split('\n')
    .filter((line) => /(node dist\/main\.js|npm start)\s*&/.test(line))
    .map((line) => {
      const loop = /for \w+ in ([^;]+);/.exec(line);
      return { line, count: loop ? (loop[1] ?? '').trim().split(/\s+/).length : 1 };
    });
}

/** A listener's setting on `line`: unset, 0 (a free port), or a fixed value. */
function port(line: string, name: string): string | undefined {
  return new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(line)?.[1];
}

const BLOCKS = PAGES.flatMap((page) =>
  [...readFileSync(join(ROOT, page), 'utf8').matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((m) => ({ page, text: m[1] ?? '' })),
);

describe('docs examples that start several gateways on one host', () => {
  const several = BLOCKS.map((b) => ({ ...b, starts: backgroundStarts(b.text) })).filter(
    (b) => b.starts.reduce((n, s) => n + s.count, 0) > 1,
  );

  it('are found (the replicas with Redis, TLS beside mTLS)', () => {
    expect(several.map((b) => b.page)).toEqual(expect.arrayContaining(['docs/operations.md', 'docs/access-and-limits.md']));
  });

  it('give each gateway its own HTTP and metrics port', () => {
    const clashes: string[] = [];
    for (const block of several) {
      for (const name of ['HTTP_PORT', 'METRICS_PORT']) {
        const fixed = new Map<string, number>();
        for (const start of block.starts) {
          const value = port(start.line, name);
          if (value === '0' || value === 'off') continue;
          const key = value ?? '(default)';
          fixed.set(key, (fixed.get(key) ?? 0) + start.count);
        }
        for (const [value, count] of fixed) if (count > 1) clashes.push(`${block.page}: ${count} gateways on ${name} ${value}`);
      }
    }
    expect(clashes).toEqual([]);
  });
});
