import type { SyncReport, SyncRunner } from '../../src/catalog/sync/types.js';

/** A SyncRunner that answers with the report a test queued for the source. */
export class ScriptedRunner implements SyncRunner {
  private readonly queued = new Map<string, SyncReport>();
  next(report: SyncReport): void {
    this.queued.set(report.source, report);
  }
  run(source: SyncReport['source']): Promise<SyncReport> {
    const report = this.queued.get(source);
    if (!report) return Promise.reject(new Error(`${source}: no URL configured`));
    return Promise.resolve(report);
  }
}
