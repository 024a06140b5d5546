import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sha = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A config file with test API keys: alice (models, requests/min), bob (tokens/min), carol and dave (budgets), erin (open). */
export function accessFile(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmo-access-'));
  const path = join(dir, 'access.yaml');
  writeFileSync(
    path,
    `access:
  api_keys:
    - { name: alice, sha256: ${sha('alice-secret')}, allowed_models: ["gpt-4o-mini", "gpt-3.5*"], limits: { requests_per_minute: 5 } }
    - { name: bob, sha256: ${sha('bob-secret')}, limits: { tokens_per_minute: 100 } }
    - { name: carol, sha256: ${sha('carol-secret')}, budgets: { usd_per_day: 0.00001 } }
    - { name: dave, sha256: ${sha('dave-secret')}, budgets: { usd_per_day: 0.00001 } }
    - { name: erin, sha256: ${sha('erin-secret')} }
${extra}`,
  );
  return path;
}
