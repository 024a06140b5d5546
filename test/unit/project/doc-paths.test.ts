import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const TOP = ['src', 'test', 'deploy', 'bench', 'proto', 'docs', 'clients', 'scripts', 'examples', 'config', '.ci'];
// A repository path in backticks: `src/x.ts`, `test/unit/deploy/*.test.ts`, `deploy/k8s/base/`.
const PATH = new RegExp(`\`((?:${TOP.map((t) => t.replace('.', '\\.')).join('|')})/[A-Za-z0-9_./*{}-]*)`, 'g');

function pages(): string[] {
  const md = (dir: string) =>
    readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `${dir}/${f}`);
  return ['README.md', ...md('docs'), ...md('docs/clients')];
}

/**
 * Folders the repository ignores (.gitignore), which a run makes (bench/results/, bench/.peer/):
 * the docs name them on purpose, though a fresh checkout, CI's among them, has none.
 */
const MADE_BY_RUNS = readFileSync(join(ROOT, '.gitignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line.endsWith('/') && !line.startsWith('#'));

/** The file or folder a path names; for a glob, the folder it matches in. */
function target(path: string): string {
  const trimmed = path.replace(/[.:,]+$/, '');
  const glob = trimmed.search(/[*{]/);
  return glob === -1 ? trimmed : dirname(`${trimmed.slice(0, glob)}x`);
}

describe('the docs', () => {
  // A page that names a file that was moved or renamed sends its reader nowhere.
  it('name only files and folders that exist in the repository', () => {
    const missing: string[] = [];
    let named = 0;
    for (const page of pages()) {
      for (const match of readFileSync(join(ROOT, page), 'utf8').matchAll(PATH)) {
        const path = match[1] ?? '';
        named += 1;
        if (MADE_BY_RUNS.some((dir) => path.startsWith(dir))) continue;
        if (!existsSync(join(ROOT, target(path)))) missing.push(`${page}: ${path}`);
      }
    }
    // The pattern still finds what the pages name (they name hundreds of paths).
    expect(named).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });
});
