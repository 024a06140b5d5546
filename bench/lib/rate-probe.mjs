/**
 * Loaded into a gateway by bench/rate-probe.ts only (`node --import bench/lib/rate-probe.mjs`):
 * once a second, one JSON line on stderr, {"probe": ...}, with what the gateway itself saw in that
 * second: its time per call (from the HTTP/2 stream's arrival to the end of its answer, so the
 * client's and the network's share are not in it), its event-loop delay, and its collections.
 */
import http2 from 'node:http2';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

// Node runs --import in worker threads too (the SQLite ledger's writer): only the gateway's thread reports.
if (isMainThread) {
  let durations = [];
  const createServer = http2.createServer;
  http2.createServer = function (...args) {
    const server = createServer.apply(this, args);
    server.on('stream', (stream) => {
      const started = performance.now();
      stream.once('finish', () => durations.push(performance.now() - started));
    });
    return server;
  };

  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0, longestMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // kind 1: scavenge; the others (mark-compact, incremental marking, weak callbacks) count as major.
      if (entry.detail?.kind === 1) {
        gc.minor += 1;
        gc.minorMs += entry.duration;
      } else {
        gc.major += 1;
        gc.majorMs += entry.duration;
      }
      gc.longestMs = Math.max(gc.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });

  const at = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  setInterval(() => {
    const sorted = durations.sort((a, b) => a - b);
    const line = {
      probe: {
        calls: sorted.length,
        p50Ms: at(sorted, 0.5),
        p99Ms: at(sorted, 0.99),
        maxMs: sorted.at(-1) ?? 0,
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
        ...gc,
        heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
      },
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
    durations = [];
    loop.reset();
    gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0, longestMs: 0 };
  }, 1000).unref();
}
