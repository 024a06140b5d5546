import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TSX } from '../helpers/main-process.js';

const run = promisify(execFile);
const SIGNALS = fileURLToPath(new URL('../../src/startup-signals.ts', import.meta.url));

describe('a SIGTERM that comes just before the gateway serves', () => {
  it('reaches the drain that takes over, instead of being lost', async () => {
    // The signal comes while start-up's last stretch runs (nothing else runs in between), and the
    // drain takes over in the same stretch: the signal is delivered once the stretch ends.
    const script = join(mkdtempSync(join(tmpdir(), 'llmo-signals-')), 'late-sigterm.mts');
    writeFileSync(
      script,
      `import { stops } from ${JSON.stringify(SIGNALS)};
process.kill(process.pid, 'SIGTERM');
for (const until = Date.now() + 200; Date.now() < until; );
stops.handleWith((signal) => {
  process.stdout.write('drained on ' + signal);
  process.exit(0);
});
setTimeout(() => {
  process.stdout.write('lost');
  process.exit(3);
}, 2_000);
`,
    );
    const { stdout } = await run(process.execPath, ['--import', TSX, script]).catch((err: { stdout: string }) => err);
    expect(stdout).toBe('drained on SIGTERM');
  }, 20_000);
});
