import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * clients/node as a user gets it: `npm pack` (prepack compiles it), the tarball installed into a
 * scratch folder outside the repository, and a program there that imports only
 * `@llm-orchestrator/client` and `@grpc/grpc-js` calling a real server.
 */
const run = promisify(execFile);

const PROGRAM = `
import { credentials, Metadata } from '@grpc/grpc-js';
import { ChatServiceClient, FinishReason, errorDetails } from '@llm-orchestrator/client';

const client = new ChatServiceClient(process.argv[2], credentials.createInsecure());
const chat = (model) =>
  new Promise((done) =>
    client.chat({ model, prompt: 'hello', messages: [] }, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => done({ err, res })),
  );
const ok = await chat('gpt-4o-mini');
const bad = await chat('no-such-model');
client.close();
console.log(JSON.stringify({
  model: ok.res.model,
  content: ok.res.content,
  finish: FinishReason[ok.res.finishReason],
  code: bad.err.code,
  reason: errorDetails(bad.err.metadata).errorInfo?.reason,
}));
`;

let h: Harness;
let scratch: string;
beforeAll(async () => {
  h = await startHarness();
  scratch = await mkdtemp(join(tmpdir(), 'llmo-npm-client-'));
}, 30_000);
afterAll(async () => {
  await h?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the npm package @llm-orchestrator/client', () => {
  it('packs, installs into a scratch folder and calls a real server', async () => {
    await run('npm', ['pack', resolve('clients/node'), '--pack-destination', scratch, '--silent'], { timeout: 120_000 });
    const tarball = (await readdir(scratch)).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBe('llm-orchestrator-client-0.1.0.tgz');
    await writeFile(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // Its dependencies come from the npm cache when they are there (the gateway uses the same versions).
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`], { cwd: scratch, timeout: 180_000 });
    await writeFile(join(scratch, 'main.mjs'), PROGRAM);
    const { stdout } = await run(process.execPath, ['main.mjs', `127.0.0.1:${h.app.port}`], { cwd: scratch, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({
      model: 'gpt-4o-mini',
      content: expect.stringMatching(/^Simulated gpt-4o-mini answer/),
      finish: 'FINISH_REASON_STOP',
      code: 5,
      reason: 'MODEL_NOT_FOUND',
    });
  }, 300_000);

  it("uses the application's own @grpc/grpc-js, so its credentials and Metadata are accepted", async () => {
    // An application that already has another 1.x release of grpc-js: this checkout's copy,
    // packed under a later patch version, stands in for it.
    const app = await mkdtemp(join(tmpdir(), 'llmo-npm-app-'));
    try {
      const grpcJs = join(app, 'grpc-js');
      await cp(resolve('node_modules/@grpc/grpc-js'), grpcJs, { recursive: true });
      const manifest = JSON.parse(await readFile(join(grpcJs, 'package.json'), 'utf8')) as { version: string };
      const [major, minor, patch] = manifest.version.split('.').map(Number);
      manifest.version = `${major}.${minor}.${(patch ?? 0) + 1}`;
      await writeFile(join(grpcJs, 'package.json'), JSON.stringify(manifest));
      await run('npm', ['pack', grpcJs, '--pack-destination', app, '--silent', '--ignore-scripts'], { timeout: 120_000 });
      const grpcTarball = (await readdir(app)).find((f) => f.startsWith('grpc-grpc-js-') && f.endsWith('.tgz'));
      const tarball = (await readdir(scratch)).find((f) => f.endsWith('.tgz'));
      await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${grpcTarball}`, join(scratch, tarball ?? '')], {
        cwd: app,
        timeout: 180_000,
      });
      await writeFile(join(app, 'main.mjs'), PROGRAM);
      const { stdout } = await run(process.execPath, ['main.mjs', `127.0.0.1:${h.app.port}`], { cwd: app, timeout: 20_000 });
      expect(JSON.parse(stdout)).toMatchObject({ model: 'gpt-4o-mini', code: 5, reason: 'MODEL_NOT_FOUND' });
    } finally {
      await rm(app, { recursive: true, force: true });
    }
  }, 300_000);

  it('exports every orchestrator.v1 message, enum and service client from its root', async () => {
    const files = (await readdir(resolve('proto/orchestrator/v1'))).filter((f) => f.endsWith('.proto')).map((f) => f.slice(0, -6));
    await writeFile(
      join(scratch, 'exports.mjs'),
      `import * as root from '@llm-orchestrator/client';
const missing = [];
for (const file of process.argv.slice(2)) {
  const own = await import('@llm-orchestrator/client/orchestrator/v1/' + file);
  for (const name of Object.keys(own)) if (!(name in root)) missing.push(file + ': ' + name);
}
console.log(JSON.stringify(missing));
`,
    );
    const { stdout } = await run(process.execPath, ['exports.mjs', ...files], { cwd: scratch, timeout: 20_000 });
    expect(files).toEqual(expect.arrayContaining(['chat', 'keys', 'usage']));
    expect(JSON.parse(stdout)).toEqual([]);
  }, 60_000);

  it('ships its types: a TypeScript program against the installed package typechecks', async () => {
    await writeFile(
      join(scratch, 'check.ts'),
      `import { ChatServiceClient, errorDetails, type ChatRequest, type ErrorDetails } from '@llm-orchestrator/client';
import { StatsServiceClient } from '@llm-orchestrator/client/orchestrator/v1/stats';
const request: ChatRequest = { model: 'm', prompt: 'p', messages: [] };
const details: ErrorDetails = errorDetails(undefined);
export const used = [request, details.retryAfterMs, ChatServiceClient, StatsServiceClient];
`,
    );
    await writeFile(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [resolve('node_modules/@types')],
        },
        files: ['check.ts'],
      }),
    );
    const result = await run(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', scratch], {
      cwd: scratch,
      timeout: 120_000,
    }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? 'tsc failed',
    );
    expect(result).toBe('');
  }, 180_000);
});
