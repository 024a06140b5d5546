import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The Node and Go guides list the service clients their package holds; a reader takes the list
 * for all of them, so a service left out looks like one that language cannot call.
 */
const DIR = 'proto/orchestrator/v1';
const services = readdirSync(DIR)
  .filter((f) => f.endsWith('.proto'))
  .flatMap((f) => [...readFileSync(join(DIR, f), 'utf8').matchAll(/^service (\w+)/gm)].map((m) => m[1] ?? ''));

describe('the client guides', () => {
  it.each([
    ['docs/clients/node.md', (s: string) => `${s}Client`],
    ['docs/clients/go.md', (s: string) => `New${s}Client`],
  ])('%s names the client of every orchestrator.v1 service', (page, client) => {
    const text = readFileSync(page, 'utf8');
    expect(services.length).toBeGreaterThan(0);
    expect(services.map(client).filter((name) => !text.includes(`\`${name}\``))).toEqual([]);
  });
});
