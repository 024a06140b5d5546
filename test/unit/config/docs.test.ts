import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, PAGE, regenerate, undescribed } from '../../../scripts/config-docs.js';
import { COMPAT_ALIASES } from '../../../src/config/config.js';
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
});
