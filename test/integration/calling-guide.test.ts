import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startWithSimulator } from '../helpers/harness.js';
import { BUF } from '../helpers/buf-curl.js';

/**
 * Runs every command of docs/calling.md against a real server (with its embedded simulator) and
 * checks each output against the one printed under it: the same fields with the same types
 * (values differ on every run), so the guide cannot go stale.
 */
const PAGE = new URL('../../docs/calling.md', import.meta.url);
const page = readFileSync(PAGE, 'utf8');

interface Example {
  readonly command: string;
  readonly kind: 'json' | 'text';
  readonly shown: string;
}

const EXAMPLE = /```sh\n((?:(?!```)[\s\S])*?)```\n\n```(json|text)\n((?:(?!```)[\s\S])*?)```/g;
const examples: Example[] = [...page.matchAll(EXAMPLE)].map((m) => ({
  command: m[1] ?? '',
  kind: m[2] as 'json' | 'text',
  shown: m[3] ?? '',
}));
const setup = /```sh\n(GW=(?:(?!```)[\s\S])*?)```/.exec(page)?.[1] ?? '';

/** Every JSON value in `text`, one after another (buf curl prints one per message). */
function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    let end = 0;
    let depth = 0;
    let inString = false;
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          end = i + 1;
          break;
        }
      }
    }
    if (end === 0) throw new Error(`not JSON: ${rest.slice(0, 200)}`);
    values.push(JSON.parse(rest.slice(0, end)));
    rest = rest.slice(end).trim();
  }
  return values;
}

function keysIn(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysIn(v, into);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      into.add(k);
      keysIn(v, into);
    }
  }
  return into;
}

/**
 * Where `real` lacks what `shown` has. proto3 JSON leaves out numbers and booleans at their
 * default, so such a key may be missing from one object if the run printed it somewhere else.
 */
function shapeProblems(shown: unknown, real: unknown, seen: Set<string>, path = '$'): string[] {
  if (Array.isArray(shown)) {
    if (!Array.isArray(real)) return [`${path}: expected an array`];
    return shown.flatMap((element, i) =>
      real.some((candidate) => shapeProblems(element, candidate, seen).length === 0)
        ? []
        : [`${path}[${i}]: no element of this shape in ${JSON.stringify(real).slice(0, 300)}`],
    );
  }
  if (shown && typeof shown === 'object') {
    if (!real || typeof real !== 'object' || Array.isArray(real)) return [`${path}: expected an object`];
    const actual = real as Record<string, unknown>;
    return Object.entries(shown).flatMap(([key, value]) => {
      if (!(key in actual)) {
        const mayBeDefault = (typeof value === 'number' || typeof value === 'boolean') && seen.has(key);
        return mayBeDefault ? [] : [`${path}.${key}: missing`];
      }
      return shapeProblems(value, actual[key], seen, `${path}.${key}`);
    });
  }
  return typeof shown === typeof real ? [] : [`${path}: ${typeof real}, the page shows ${typeof shown}`];
}

/** A text line without its run-specific parts (numbers, ids). */
const skeleton = (line: string): string =>
  line
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/\d+(\.\d+)?/g, '#')
    .trim();

describe('docs/calling.md, run against a real server', () => {
  let app: App;
  let sim: string;
  beforeAll(async () => {
    app = await startWithSimulator();
    sim = app.simulator?.url ?? '';
  });
  afterAll(() => app.stop(200));

  it('has the setup block and examples to run', () => {
    expect(setup).toMatch(/bcurl\(\)/);
    expect(setup).toMatch(/detail\(\)/);
    expect(examples.length).toBeGreaterThanOrEqual(15);
    for (const method of ['Chat', 'StreamChat', 'Race', 'Fallback', 'Batch', 'ListModels', 'RankModels', 'GetStats', 'Health/Check']) {
      expect(
        examples.some((e) => new RegExp(`[./]${method}(\\s|$)`, 'm').test(e.command)),
        method,
      ).toBe(true);
    }
  });

  it.each(examples.map((e, i) => [i + 1, e.command.trim().split('\n').at(-1)?.slice(0, 80), e] as const))(
    'example %i: %s',
    async (_n, _title, example) => {
      await fetch(`${sim}/_sim/faults`, { method: 'DELETE' });
      // The page's own helpers, pointed at this server; bcurl without npx's start-up cost.
      const script = `${setup}\nGW=http://127.0.0.1:${app.port}\nSIM=${sim}\nbcurl() { ${BUF} curl --protocol grpc --http2-prior-knowledge "$@"; }\n${example.command}`;
      const { stdout, stderr } = await promisify(execFile)('bash', ['-c', script], { cwd: new URL('../..', import.meta.url) }).catch(
        (err: { stdout: string; stderr: string }) => err,
      );
      const output = `${stdout}${stderr}`;
      if (example.kind === 'text') {
        const lines = (text: string) => text.split('\n').map(skeleton).filter(Boolean).sort();
        expect(lines(output)).toEqual(lines(example.shown));
        return;
      }
      const real = jsonValues(output);
      const seen = keysIn(real);
      for (const [i, shown] of jsonValues(example.shown).entries()) {
        const matches = real.map((r) => shapeProblems(shown, r, seen));
        if (!matches.some((problems) => problems.length === 0)) {
          const closest =
            matches.length > 0 ? matches.reduce((a, b) => (b.length < a.length ? b : a)) : [`no output (got ${output.slice(0, 300)})`];
          expect.fail(`output value ${i + 1} shown on the page has no counterpart in the run:\n${closest.join('\n')}`);
        }
      }
    },
    60_000,
  );
});
