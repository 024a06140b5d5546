/**
 * Loaded into a gateway by the bench only (`node --import bench/lib/alloc-probe.mjs dist/main.js`,
 * with BENCH_ALLOC_PROBE_PORT set): counts the bytes the process allocates on the V8 heap
 * between two marks, so the bench can print allocation per call.
 *
 * V8 keeps no running total of allocated bytes (Node 20's heap statistics have none), but every
 * allocated byte is either still in use at the end or was freed by a collection in between:
 *
 *   allocated = used(end) - used(start) + sum over collections of (used before - used after)
 *
 * with the used sizes V8 reports before and after each collection (v8.GCProfiler). This counts
 * the JavaScript heap (objects, strings, closures, the headers of Buffers); a Buffer's bytes that
 * live outside the heap (ArrayBuffer backing stores) are not in it. The probe's own two HTTP
 * requests add a few kilobytes, nothing over thousands of calls.
 *
 *   GET  /heap   {"usedHeapMb": N, "rssMb": N} after a full collection when the gateway runs
 *                with --expose-gc (the idle A/B: heap in use, without the noise of when V8 last collected)
 *   POST /start  begin counting
 *   POST /stop   {"allocatedBytes": N, "promotedBytes": N, "collections": N, "pauseMs": N}
 *
 * promotedBytes: what the young-generation collections (scavenges) moved to the old generation,
 * the growth of the old and large-object spaces across each. Objects that outlive two scavenges
 * are promoted; garbage there costs a mark-compact to find, and the old generation's pages,
 * released after it, are faulted in again as promotion refills them.
 *
 * With `?sample=1` on both, it also runs V8's sampling heap profiler between the marks, keeping
 * the samples of objects collected since (so it shows where the garbage comes from, not only
 * what stays), and /stop answers {"...", "profile": <the sampling heap profile>}. With
 * BENCH_ALLOC_SURVIVORS=1 in the gateway's environment the samples of objects a scavenge
 * collected are dropped instead: the profile is then where the promoted objects were allocated.
 *
 * With `?promises=1` on both, it also counts the promises made between the marks (v8.promiseHooks)
 * and where: /stop adds {"promises": {"total": N, "sites": [[site, n], ...]}}, a site being the
 * first frames of the stack that made the promise, sampled at one promise in ten (n is scaled back
 * up). Await and async functions make promises too, so this is where a request's microtasks come from.
 */
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const port = Number(process.env.BENCH_ALLOC_PROBE_PORT);
// Node runs --import in worker threads too (the SQLite ledger's writer): only the gateway's thread counts.
if (isMainThread && Number.isInteger(port) && port > 0) {
  let profiler;
  let usedAtStart = 0;
  let session;
  let census;
  const server = createServer(async (req, res) => {
    const sample = req.url?.includes('sample=1') ?? false;
    if (req.url === '/heap') {
      globalThis.gc?.();
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          usedHeapMb: v8.getHeapStatistics().used_heap_size / 2 ** 20,
          rssMb: process.memoryUsage.rss() / 2 ** 20,
          collected: typeof globalThis.gc === 'function',
        }),
      );
      return;
    }
    if (req.url?.startsWith('/start')) {
      if (sample) {
        session = new Session();
        session.connect();
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 256,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_SURVIVORS !== '1',
        });
      }
      census?.stop();
      census = req.url.includes('promises=1') ? promiseCensus() : undefined;
      profiler?.stop();
      profiler = new v8.GCProfiler();
      profiler.start();
      usedAtStart = v8.getHeapStatistics().used_heap_size;
      res.end('{}');
      return;
    }
    if (req.url?.startsWith('/stop') && profiler) {
      const usedAtEnd = v8.getHeapStatistics().used_heap_size;
      const { statistics } = profiler.stop();
      profiler = undefined;
      const promises = census?.stop();
      census = undefined;
      const profile = sample && session ? (await session.post('HeapProfiler.stopSampling')).profile : undefined;
      if (session && sample) session.disconnect();
      let freed = 0;
      let promoted = 0;
      let pauseUs = 0;
      for (const gc of statistics) {
        freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
        if (gc.gcType === 'Scavenge') promoted += oldGeneration(gc.afterGC) - oldGeneration(gc.beforeGC);
        pauseUs += gc.cost;
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          allocatedBytes: usedAtEnd - usedAtStart + freed,
          promotedBytes: promoted,
          collections: statistics.length,
          pauseMs: pauseUs / 1000,
          profile,
          promises,
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  /** Bytes in use in the spaces a scavenge promotes into. */
  const oldGeneration = (at) =>
    at.heapSpaceStatistics.reduce(
      (sum, space) => sum + (space.spaceName === 'old_space' || space.spaceName === 'large_object_space' ? space.spaceUsedSize : 0),
      0,
    );
  server.listen(port, '127.0.0.1');
  /** Promises made from now until stop(): their number, and a one-in-ten sample of where. */
  const promiseCensus = () => {
    const sites = new Map();
    let total = 0;
    const stopHook = v8.promiseHooks.onInit(() => {
      total += 1;
      if (Math.random() >= 0.1) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 5;
      const holder = {};
      Error.captureStackTrace(holder);
      Error.stackTraceLimit = limit;
      const site = holder.stack
        .split('\n')
        .slice(2, 5)
        .map((line) =>
          line
            .trim()
            .replace(/^at /, '')
            .replace(/file:\/\/|\/[^ ()]*?\/(?=(dist|src|node_modules)\/)/g, ''),
        )
        .join(' < ');
      sites.set(site, (sites.get(site) ?? 0) + 1);
    });
    return {
      stop: () => {
        stopHook();
        return { total, sites: [...sites].map(([site, n]) => [site, n * 10]).sort((a, b) => b[1] - a[1]) };
      },
    };
  };
  // Never the reason the gateway stays up after a signal asked it to stop.
  server.unref();
}
