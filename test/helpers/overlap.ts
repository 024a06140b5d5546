/** A request as an upstream saw it: when it arrived and, once it did, when its response ended. */
export interface TimedRequest {
  readonly startedAt: number;
  readonly endedAt?: number | undefined;
}

/** The most requests that were open at the upstream at the same moment. */
export function maxConcurrent(records: readonly TimedRequest[]): number {
  const edges = records.flatMap((r) => [
    { at: r.startedAt, delta: 1 },
    { at: r.endedAt ?? Number.POSITIVE_INFINITY, delta: -1 },
  ]);
  // Ends before starts at the same instant: a slot freed and reused is not an overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let max = 0;
  for (const edge of edges) {
    open += edge.delta;
    max = Math.max(max, open);
  }
  return max;
}
