import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Reason } from '../../../src/domain/errors.js';

const ROOT = join(import.meta.dirname, '../../..');
const page = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');

describe('docs/errors.md', () => {
  // The README sends readers there for "every gRPC code and reason the gateway returns".
  it('names every ErrorInfo reason the gateway returns', () => {
    expect(Object.values(Reason).filter((reason) => !page.includes(`\`${reason}\``))).toEqual([]);
  });
});

describe('the proto comments', () => {
  const protos = readdirSync(join(ROOT, 'proto/orchestrator/v1')).map((f) => readFileSync(join(ROOT, 'proto/orchestrator/v1', f), 'utf8'));

  // A polyglot caller reads the .proto first: where it sends them for the errors must exist.
  it('send readers only to pages and sections that exist', () => {
    const missing: string[] = [];
    let named = 0;
    for (const text of protos) {
      for (const [, file = '', section] of text.matchAll(/see (README|[\w/.-]+\.md)(?: "([^"]+)")?/g)) {
        const path = file === 'README' ? 'README.md' : file;
        named += 1;
        if (!existsSync(join(ROOT, path))) missing.push(path);
        else if (section && !new RegExp(`^#+ ${section}$`, 'm').test(readFileSync(join(ROOT, path), 'utf8')))
          missing.push(`${path} "${section}"`);
      }
    }
    expect(named).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });
});
