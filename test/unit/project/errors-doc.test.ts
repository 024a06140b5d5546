import { readFileSync } from 'node:fs';
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
