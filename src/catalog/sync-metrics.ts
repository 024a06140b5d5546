import { Counter, Gauge, type Registry } from 'prom-client';
import type { SyncReport } from './sync/types.js';

/**
 * Sync runs by source and outcome, and when each source last succeeded: a failed run keeps the
 * last good data in use, so the age of that data is what to alert on.
 */
export function syncMetrics(registry: Registry): (report: SyncReport) => void {
  const runs = new Counter({
    name: 'llm_orchestrator_catalog_sync_runs_total',
    help: 'Catalog sync runs by source and outcome (ok, failed); a failed run keeps the last good data.',
    labelNames: ['source', 'outcome'],
    registers: [registry],
  });
  const lastOk = new Gauge({
    name: 'llm_orchestrator_catalog_sync_last_success_seconds',
    help: 'Unix time of the last successful sync of each catalog source.',
    labelNames: ['source'],
    registers: [registry],
    // With several workers each keeps its own time (the one that ran last holds the newest): a sum of times means nothing.
    aggregator: 'max',
  });
  return (report) => {
    runs.inc({ source: report.source, outcome: report.ok ? 'ok' : 'failed' });
    if (report.ok) lastOk.set({ source: report.source }, report.finishedAt.getTime() / 1000);
  };
}
