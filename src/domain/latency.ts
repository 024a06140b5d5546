/**
 * A duration in milliseconds to the microsecond, as every latency the gateway reports (answers,
 * log lines, the ledger's percentiles): finer digits are timer noise.
 */
export function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
