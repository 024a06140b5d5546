import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../../src/config/config.js';
import { ENV_NAMES, type EnvName } from '../../../src/config/schema-info.js';

/**
 * Every `SETTING=value` the docs and the deploy files write, for a setting the gateway reads, is a
 * value that setting accepts: a value it refuses stops start-up (exit 2), so a reader who copies
 * it gets a config error instead of what the page describes.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return files(path, keep);
    return keep(e.name) ? [path] : [];
  });
}

const SOURCES = [
  'README.md',
  ...files('docs', (name) => name.endsWith('.md') && name !== 'PERFORMANCE.md'),
  ...files('deploy', (name) => /\.(ya?ml|md|mjs)$/.test(name) || name === 'Dockerfile'),
  ...files('examples', (name) => /\.(md|sh)$/.test(name)),
];

const NAMES = new Set<string>(ENV_NAMES);
/** A shell placeholder, a letter standing for a number, or an elided value: the reader fills it in. */
const PLACEHOLDER = /[$<…]|^\.\.\.$|^[A-Z]$/;

interface Use {
  readonly where: string;
  readonly name: EnvName;
  readonly value: string;
}

/** The example shows this value refused on purpose: a `config error: NAME` line follows the command. */
const shownRefused = (lines: readonly string[], i: number, name: string): boolean =>
  lines.slice(i + 1, i + 8).some((next) => next.startsWith(`config error: ${name}`));

const uses: Use[] = SOURCES.flatMap((path) => {
  const lines = readFileSync(join(ROOT, path), 'utf8').split('\n');
  return lines.flatMap((line, i) =>
    [...line.matchAll(/(?<![\w$-])([A-Z][A-Z0-9_]+)=("[^"]*"|'[^']*'|[^\s`'"|),;]+)/g)].flatMap((m) => {
      const name = m[1] ?? '';
      const value = (m[2] ?? '').replace(/^["']|["']$/g, '').replace(/[.:]$/, '');
      if (!NAMES.has(name) || value === '' || PLACEHOLDER.test(value) || shownRefused(lines, i, name)) return [];
      return [{ where: `${path}:${i + 1}`, name: name as EnvName, value }];
    }),
  );
});

describe('settings the docs write', () => {
  it('are found (the pages set many)', () => {
    expect(uses.length).toBeGreaterThan(50);
  });

  it('are values the gateway accepts', () => {
    const refused = uses.filter((u) => !envSchema.shape[u.name].safeParse(u.value).success).map((u) => `${u.where}: ${u.name}=${u.value}`);
    expect(refused).toEqual([]);
  });
});
