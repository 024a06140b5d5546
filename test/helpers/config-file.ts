import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes `text` to a fresh temporary directory and returns the file's path (for CONFIG_FILE). */
export function writeConfigFile(text: string, name = 'config.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'llmo-config-')), name);
  writeFileSync(path, text);
  return path;
}
