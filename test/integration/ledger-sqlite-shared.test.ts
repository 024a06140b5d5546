import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';

/** Several processes opening one new SQLite file at once, as WORKERS do on first start. */
describe('a SQLite ledger shared by processes', () => {
  it('is migrated once however many processes start together, and each can write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-shared-'));
    const file = join(dir, 'ledger.db');
    const script = join(dir, 'open.mts');
    writeFileSync(
      script,
      `import { pino } from '${process.cwd()}/node_modules/pino/pino.js';
import { LedgerStore } from '${process.cwd()}/src/store/ledger-store.ts';
const store = new LedgerStore({ target: { kind: 'sqlite', file: process.argv[2] }, log: pino({ level: 'silent' }), maxQueue: 10, flushMs: 10, batchSize: 10 });
await store.start();
const rows = await store.db.db.selectFrom('ledger_migrations').select('name').execute();
await store.close(100);
process.send(rows.length);
`,
    );
    const counts = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<number>((resolve, reject) => {
            const child = fork(script, [file], {
              execArgv: ['--import', 'tsx'],
              cwd: process.cwd(),
              stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
            });
            let stderr = '';
            child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
            child.once('message', (m) => resolve(Number(m)));
            // 'close': stderr read to its end, for the message.
            child.once('close', (code) => (code === 0 ? undefined : reject(new Error(`exit ${code}: ${stderr}`))));
          }),
      ),
    );
    // Every process sees each migration recorded once.
    const applied = Object.keys(MIGRATIONS).length;
    expect(counts).toEqual([applied, applied, applied, applied]);
  }, 60_000);
});
