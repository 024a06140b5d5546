import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * proto/README.md is the module's page on the Buf Schema Registry: what someone generating a
 * client reads to learn what the gateway offers. A service or an RPC it leaves out is one they
 * never look for.
 */
const DIR = 'proto/orchestrator/v1';

describe('proto/README.md', () => {
  const readme = readFileSync('proto/README.md', 'utf8');
  const files = readdirSync(DIR).filter((f) => f.endsWith('.proto'));

  it('names every file, service and RPC of orchestrator.v1', () => {
    const missing: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(DIR, file), 'utf8');
      const names = [`orchestrator/v1/${file}`, ...[...text.matchAll(/^(?:service|\s+rpc) (\w+)/gm)].map((m) => m[1] ?? '')];
      for (const name of names) if (!readme.includes(`\`${name}\``)) missing.push(`${file}: ${name}`);
    }
    expect(files.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });
});
