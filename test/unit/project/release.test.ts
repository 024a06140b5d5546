import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageVersion, versionLine } from '../../../src/version.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; license: string; scripts: Record<string, string> };

describe('release basics', () => {
  it('LICENSE is the license package.json names', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = readFileSync('LICENSE', 'utf8');
    expect(license).toContain('Apache License');
    expect(license).toContain('Version 2.0, January 2004');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
  });

  it('CHANGELOG.md has a section for the current version', () => {
    expect(readFileSync('CHANGELOG.md', 'utf8')).toMatch(new RegExp(`^## \\[${pkg.version.replace(/\./g, '\\.')}\\]`, 'm'));
  });

  it("the version printed is package.json's", () => {
    expect(packageVersion()).toBe(pkg.version);
    expect(versionLine()).toBe(`llm-orchestrator ${pkg.version} (node ${process.version})`);
  });

  it('npm test runs buf breaking', () => {
    expect(pkg.scripts['test']).toContain('npm run check:breaking');
    expect(pkg.scripts['check:breaking']).toBe('bash scripts/check-breaking.sh');
  });
});

/** scripts/check-breaking.sh in a scratch repository: a release tag, then a change after it. */
describe('scripts/check-breaking.sh', () => {
  let repo: string;
  const git = (...args: string[]) => run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo });
  const proto = (fields: string) => `syntax = "proto3";\npackage orchestrator.v1;\n// A message.\nmessage Thing {\n${fields}}\n`;
  const write = (fields: string) => writeFile(join(repo, 'proto/orchestrator/v1/thing.proto'), proto(fields));
  async function check(): Promise<{ code: number; out: string }> {
    try {
      const { stdout, stderr } = await run('bash', ['scripts/check-breaking.sh'], { cwd: repo, timeout: 60_000 });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
    }
  }

  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), 'llmo-breaking-'));
    await mkdir(join(repo, 'scripts'));
    await mkdir(join(repo, 'proto/orchestrator/v1'), { recursive: true });
    await copyFile('scripts/check-breaking.sh', join(repo, 'scripts/check-breaking.sh'));
    await copyFile('buf.yaml', join(repo, 'buf.yaml'));
    await symlink(resolve('node_modules'), join(repo, 'node_modules'));
    await writeFile(join(repo, '.gitignore'), 'node_modules\n');
    await git('init', '-q', '-b', 'main');
    await write('  // A.\n  string a = 1;\n  // B.\n  string b = 2;\n');
    await git('add', '-A');
    await git('commit', '-qm', 'first');
  });
  afterAll(async () => {
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('before any release: compares with the first committed protos', async () => {
    await write('  // A.\n  string a = 1;\n');
    await git('commit', '-qam', 'remove b');
    const result = await check();
    expect(result.code).toBe(1);
    expect(result.out).toContain('no v* release tag yet');
    expect(result.out).toMatch(/deleted|Previously present field "2"/);
  }, 60_000);

  it('after a release: compares with the newest v* tag, so only later changes count', async () => {
    await git('tag', 'v0.2.0');
    await write('  // A.\n  string a = 1;\n  // C.\n  string c = 3;\n');
    await git('commit', '-qam', 'add c');
    expect(await check()).toMatchObject({ code: 0, out: expect.stringContaining('compatible with release v0.2.0') });
    await write('  // A.\n  int64 a = 1;\n  // C.\n  string c = 3;\n');
    await git('commit', '-qam', 'retype a');
    expect((await check()).code).toBe(1);
  }, 60_000);
});
