import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which build is running, for llm_orchestrator_build_info. */
export interface BuildInfo {
  /** package.json `version`. */
  readonly version: string;
  /** GIT_COMMIT (set by the image build), else the checkout's HEAD, else "unknown". */
  readonly commit: string;
  /** Node.js version, without the "v". */
  readonly node: string;
}

let cached: BuildInfo | undefined;

/** Read once per process: several metric registries (workers, tests) share it. */
export function buildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  if (cached && env === process.env) return cached;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const info = { version: packageVersion(root), commit: commitOf(env, root), node: process.versions.node };
  if (env === process.env) cached = info;
  return info;
}

function packageVersion(root: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const COMMIT = /^[0-9a-f]{7,40}$/i;

function commitOf(env: NodeJS.ProcessEnv, root: string): string {
  const given = env.GIT_COMMIT?.trim();
  if (given) return COMMIT.test(given) ? given.toLowerCase() : 'unknown';
  try {
    // An image built without .git has no checkout: that is the "unknown" case, not an error.
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    }).trim();
    return COMMIT.test(head) ? head : 'unknown';
  } catch {
    return 'unknown';
  }
}
