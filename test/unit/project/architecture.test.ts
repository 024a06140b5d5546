import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layering rules docs/ARCHITECTURE.md states, checked on the source tree, so that a change
 * that breaks one fails the tests at once: the engine is entered only through its index,
 * grpc-js lives in the gRPC server (and the CLI, a gRPC client), Fastify in the HTTP API, and no
 * source file grows past 400 lines. Import cycles are biome's (`noImportCycles`).
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'gen' && dir === SRC ? [] : sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const FILES = sources(SRC).map((path) => ({ path, name: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

/** Every module a file imports or re-exports, statically or with import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** `file`'s imports that break `allowed`, as "file -> module". */
function offenders(allowed: (file: string, module: string, resolved: string | undefined) => boolean): string[] {
  const out: string[] = [];
  for (const f of FILES) {
    for (const module of specifiers(f.text)) {
      const resolved = module.startsWith('.') ? relative(ROOT, normalize(join(dirname(f.path), module))) : undefined;
      if (!allowed(f.name, module, resolved)) out.push(`${f.name} -> ${module}`);
    }
  }
  return out;
}

describe('the source tree keeps its layers', () => {
  it('finds the sources and their imports', () => {
    expect(FILES.length).toBeGreaterThan(100);
    const app = FILES.find((f) => f.name === 'src/app.ts');
    expect(specifiers(app?.text ?? '')).toContain('./engine/index.js');
  });

  it('no source file is longer than 400 lines', () => {
    const long = FILES.map((f) => ({ name: f.name, lines: f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0) })).filter(
      (f) => f.lines > 400,
    );
    expect(long).toEqual([]);
  });

  it('outside src/engine, the engine is imported only through src/engine/index.ts', () => {
    expect(
      offenders((file, _module, resolved) => {
        if (file.startsWith('src/engine/') || resolved === undefined || !resolved.startsWith('src/engine/')) return true;
        return resolved === 'src/engine/index.js';
      }),
    ).toEqual([]);
  });

  it('grpc-js is imported only by the gRPC server (src/server) and the CLI, a gRPC client', () => {
    expect(
      offenders((file, module) => !module.startsWith('@grpc/') || file.startsWith('src/server/') || file.startsWith('src/cli/')),
    ).toEqual([]);
  });

  it('Fastify is imported only by the HTTP API (src/http)', () => {
    expect(offenders((file, module) => !/^(fastify|@fastify\/)/.test(module) || file.startsWith('src/http/'))).toEqual([]);
  });
});
