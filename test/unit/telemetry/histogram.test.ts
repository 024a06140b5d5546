import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/telemetry/histogram.js';

/** Within the histogram's precision: 2 significant digits. */
const near = (got: number, want: number): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 0.01);

describe('LatencyHistogram', () => {
  it('reads each percentile at its own rank, in milliseconds', () => {
    const h = new LatencyHistogram();
    for (let ms = 1; ms <= 100; ms++) h.record(ms);
    const s = h.summary();
    expect(s.count).toBe(100);
    near(s.avgMs, 50.5);
    near(s.p50Ms, 50);
    near(s.p95Ms, 95);
    near(s.p99Ms, 99);
    expect(s.maxMs).toBe(100);
  });

  it('keeps sub-millisecond precision and never reports a percentile above the largest sample', () => {
    const h = new LatencyHistogram();
    h.record(1.234);
    // The bucket holding 1234 µs reaches past it; a percentile is capped at the sample itself.
    expect(h.summary()).toEqual({ count: 1, avgMs: 1.234, p50Ms: 1.234, p95Ms: 1.234, p99Ms: 1.234, maxMs: 1.234 });
  });

  it('reads zero everywhere when nothing was recorded, and ignores samples that are not latencies', () => {
    const h = new LatencyHistogram();
    h.record(Number.NaN);
    h.record(-1);
    h.record(Number.POSITIVE_INFINITY);
    expect(h.summary()).toEqual({ count: 0, avgMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 });
  });
});
