/**
 * A duration in milliseconds to the microsecond, as every latency the gateway reports (answers,
 * log lines, the ledger's percentiles): finer digits are timer noise.
 */
export function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The gateway's own time in a call: neither the upstream's nor its client's (a request body still arriving). */
export function overheadMs(latencyMs: number, upstreamMs: number, receivingMs = 0): number {
  return Math.max(0, latencyMs - upstreamMs - receivingMs);
}
