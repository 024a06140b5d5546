import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, PAGE, regenerate, undescribed } from '../../../scripts/config-docs.js';
import { COMPAT_ALIASES, envSchema } from '../../../src/config/config.js';
import { ENV_DESCRIPTIONS } from '../../../src/config/descriptions.js';
import { ENV_NAMES } from '../../../src/config/schema-info.js';

const page = readFileSync(PAGE, 'utf8');
const block = page.slice(page.indexOf(BEGIN), page.indexOf(END));
/** The variables the page's settings tables name in their first column. */
const documented = [...block.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1] ?? '');

describe('docs/configuration.md and the settings schema', () => {
  it('describes every environment variable the schema reads (src/config/descriptions.ts)', () => {
    expect(undescribed()).toEqual([]);
  });

  it('documents every variable the schema reads, and its compatibility names', () => {
    const missing = [...ENV_NAMES, ...COMPAT_ALIASES.map((a) => a.alias)].filter((name) => !documented.includes(name));
    expect(missing, 'run npm run docs:config').toEqual([]);
  });

  it('documents no variable the schema does not read', () => {
    const known = new Set<string>([...ENV_NAMES, ...COMPAT_ALIASES.map((a) => a.alias)]);
    expect(documented.filter((name) => !known.has(name))).toEqual([]);
  });

  it('is what the generator writes today (defaults, values and meanings included)', () => {
    expect(page, 'docs/configuration.md is stale: run npm run docs:config').toBe(regenerate(page));
  });

  it('states the range each bounded setting enforces, and the schema takes its ends and refuses past them', () => {
    const BOUNDED = [
      'LEDGER_FLUSH_MS',
      'LEDGER_QUEUE_MAX',
      'LEDGER_BATCH_SIZE',
      'LEDGER_RETENTION_DAYS',
      'KEYS_REFRESH_MS',
      'LEDGER_QUERY_TIMEOUT_MS',
      'CATALOG_POLL_MS',
    ] as const;
    const takes = (name: (typeof BOUNDED)[number], value: number) => envSchema.shape[name].safeParse(String(value)).success;
    const wrong = BOUNDED.flatMap((name) => {
      const range = /\((\d+)–(\d+)(?: ms)?\)/.exec(ENV_DESCRIPTIONS[name] ?? '');
      if (!range) return [`${name}: no (min–max) in its description`];
      const [min, max] = [Number(range[1]), Number(range[2])];
      const edges = [takes(name, min), takes(name, max), !takes(name, min - 1), !takes(name, max + 1)];
      return edges.every(Boolean) ? [] : [`${name}: states ${min}–${max}, the schema says otherwise`];
    });
    expect(wrong).toEqual([]);
    expect(ENV_DESCRIPTIONS.DEFAULT_TIMEOUT).toContain('0.001 to 3600');
    expect([envSchema.shape.DEFAULT_TIMEOUT.safeParse('3600').success, envSchema.shape.DEFAULT_TIMEOUT.safeParse('3601').success]).toEqual([
      true,
      false,
    ]);
  });
});
