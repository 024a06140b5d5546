/**
 * Where a unary Chat call's allocation comes from: the gateway under N calls with V8's sampling
 * heap profiler on (objects collected since included), bytes per call by area (a package, node
 * internals, our src/ folders) and by function.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * The gateway is DIR's dist/main.js (default: this checkout; build it first).
 */
import { resolve } from 'node:path';
import { ROOT, log, startGateway, startUpstream } from './fleet.js';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { heapProfileRows } from './lib/cpuprofile.js';
import { allocProbeArgs, allocationScenario } from './scenarios/allocation.js';

const USAGE = `usage: npx tsx bench/alloc-profile.ts [--gateway-dir DIR] [--calls 3000] [--top 25]
`;
const ARGS: ArgSpec = { values: ['gateway-dir', 'calls', 'top'] };

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const dir = resolve(arg('gateway-dir') ?? ROOT);
  const calls = Number(arg('calls') ?? 3000);
  const top = Number(arg('top') ?? 25);
  const upstream = await startUpstream();
  const probe = await allocProbeArgs();
  const gateway = await startGateway(dir, upstream.port, 'warn', probe.nodeArgs, probe.env);
  try {
    const res = await allocationScenario({
      gatewayPort: gateway.port,
      probePort: probe.port,
      calls,
      warmup: 1000,
      concurrency: 16,
      quietWaitMs: 2000,
      sample: true,
    });
    if (!res.profile) throw new Error('the probe returned no profile');
    const rows = heapProfileRows(res.profile.head, calls, 'call', top);
    process.stdout.write(
      [
        `allocation per unary Chat call: ${(res.bytesPerCall / 1024).toFixed(1)} KB counted (GC accounting), ${rows.sampledKb.toFixed(1)} KB sampled; ${calls} calls, ${res.failed} failed`,
        'by area (self, sampled):',
        ...rows.byArea,
        'by function (self, sampled):',
        ...rows.byFunction,
      ].join('\n') + '\n',
    );
  } finally {
    await gateway.stop();
    await upstream.stop();
  }
}

main().catch((err: unknown) => {
  log(`alloc-profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
