import { readFileSync } from 'node:fs';

/**
 * The package's version, from the package.json one level up: the repository root both from
 * src/ (tsx) and from dist/ (the built package and the image). Read, not hard-coded, so a
 * release bumps it in one place.
 */
export function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What `llm-orchestrator --version` prints: `llm-orchestrator 0.1.0 (node v20.19.5)`. */
export function versionLine(): string {
  return `llm-orchestrator ${packageVersion()} (node ${process.version})`;
}
