import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The code a call runs through never builds an object as `{ ...base, key }` (a literal that opens
 * with a spread and goes on): in Node 20's optimised code each such object gets a hidden class of
 * its own, about 1 µs each and a shape no later read has seen (docs/PERFORMANCE.md, "Objects
 * built from a spread"). `extend(base, { key })` (src/domain/extend.ts) or a literal written out
 * does the same with shared shapes. Start-up code (configuration, catalog, CLI, simulator) may.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const PER_CALL = ['access', 'domain', 'engine', 'http', 'providers', 'server', 'store', 'telemetry'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Each literal of `text` that opens with a spread and has more members, as "file:line". */
function spreadOpened(name: string, text: string): string[] {
  const file = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node) && node.properties.length > 1 && ts.isSpreadAssignment(node.properties[0]!)) {
      found.push(`${name}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('objects built on every call keep shared hidden classes', () => {
  it('finds the literal it looks for, and leaves the others', () => {
    const text = 'const a = { ...b, c: 1 };\nconst d = { c: 1, ...b };\nconst e = { ...b };\nconst f = { ...b, ...g };\n';
    expect(spreadOpened('x.ts', text)).toEqual(['x.ts:1', 'x.ts:4']);
  });

  it('no per-call source builds an object that opens with a spread and goes on', () => {
    const files = PER_CALL.flatMap((dir) => sources(join(ROOT, 'src', dir)));
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((path) => spreadOpened(relative(ROOT, path), readFileSync(path, 'utf8')));
    expect(found).toEqual([]);
  });
});
