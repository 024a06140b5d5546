/**
 * Where a unary Chat call's allocation comes from: the gateway under N calls with V8's sampling
 * heap profiler on (objects collected since included), bytes per call by area (a package, node
 * internals, our src/ folders) and by function.
 *
 *   npx tsx bench/alloc-profile.ts [--gateway-dir DIR] [--calls 3000] [--top 25]
 *
 * The gateway is DIR's dist/main.js (default: this checkout; build it first).
 */
import { resolve } from 'node:path';
import { ROOT, log, startGateway, startUpstream } from './fleet.js';
import { areaOf, shortUrl } from './lib/cpuprofile.js';
import { allocProbeArgs, allocationScenario, type HeapProfileNode } from './scenarios/allocation.js';

async function main(): Promise<void> {
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
    const byArea = new Map<string, number>();
    const byFunction = new Map<string, number>();
    let sampled = 0;
    const walk = (node: HeapProfileNode): void => {
      const f = node.callFrame;
      if (node.selfSize > 0) {
        sampled += node.selfSize;
        const area = areaOf({ ...f, functionName: f.functionName });
        byArea.set(area, (byArea.get(area) ?? 0) + node.selfSize);
        const name = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
        byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child);
    };
    walk(res.profile.head);
    const rows = (map: Map<string, number>, n: number): string[] =>
      [...map.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(
          ([name, bytes]) =>
            `  ${((bytes / sampled) * 100).toFixed(1).padStart(5)}%  ${(bytes / calls / 1024).toFixed(2).padStart(6)} KB/call  ${name}`,
        );
    process.stdout.write(
      [
        `allocation per unary Chat call: ${(res.bytesPerCall / 1024).toFixed(1)} KB counted (GC accounting), ${(sampled / calls / 1024).toFixed(1)} KB sampled; ${calls} calls, ${res.failed} failed`,
        'by area (self, sampled):',
        ...rows(byArea, 20),
        'by function (self, sampled):',
        ...rows(byFunction, top),
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
