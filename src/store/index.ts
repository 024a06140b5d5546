import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config.js';
import type { LedgerConfig } from '../config/ledger-env.js';
import { SchemaTooNewError, type LedgerDatabase } from './database.js';
import type { GatewayListener } from '../engine/index.js';
import { ledgerListener, type LedgerListenerOptions } from './ledger-listener.js';
import { LedgerStore } from './ledger-store.js';
import { RetentionJob } from './retention.js';
import { describeTarget } from './url.js';

export type { LedgerDatabase } from './database.js';

/** The ledger as the rest of the gateway sees it. */
export interface RunningLedger {
  /** Undefined with DATABASE_URL=off. */
  readonly store: LedgerStore | undefined;
  /** The open database for reads (UsageService); undefined while unreachable or off. */
  database(): LedgerDatabase | undefined;
  /** Subscribed to the event port: every finished chat call, through either door, is recorded. */
  readonly listener: GatewayListener;
  /** Records keep answers' text (LEDGER_CONTENT=full): the calls must collect it. */
  readonly keepsAnswerText: boolean;
  readonly retention: RetentionJob | undefined;
  /** Writes what is queued within `graceMs`, then closes the database. */
  close(graceMs: number): Promise<void>;
}

export interface StartLedgerOptions {
  readonly config: LedgerConfig;
  readonly log: Logger;
  readonly priceOf: LedgerListenerOptions['priceOf'];
  /** The Prometheus registry for the dropped-records counter (METRICS=on). */
  readonly registry?: Registry | undefined;
  /** Calls retention keeps whatever their age (RetentionOptions.keepFrom). */
  readonly keepFrom?: ((now: number) => number | undefined) | undefined;
}

/**
 * Opens the database named by DATABASE_URL and starts recording. A database migrated by a newer
 * version, or a SQLite file that cannot be opened, is a configuration error (exit 2); an
 * unreachable PostgreSQL is retried in the background while the gateway serves.
 */
export async function startLedger(options: StartLedgerOptions): Promise<RunningLedger> {
  const { config, log } = options;
  if (config.target.kind === 'off') {
    log.info('ledger off (DATABASE_URL=off): calls are not recorded');
    return {
      store: undefined,
      database: () => undefined,
      listener: () => undefined,
      keepsAnswerText: false,
      retention: undefined,
      close: () => Promise.resolve(),
    };
  }
  const dropped = options.registry
    ? new Counter({
        name: 'llm_orchestrator_ledger_records_dropped_total',
        help: 'Call records the ledger dropped: its queue was full (database slow or down) or shutdown came first.',
        registers: [options.registry],
      })
    : undefined;
  const store = new LedgerStore({
    target: config.target,
    log,
    maxQueue: config.queueMax,
    flushMs: config.flushMs,
    batchSize: config.batchSize,
    queryTimeoutMs: config.queryTimeoutMs,
    onDropped: (n) => dropped?.inc(n),
  });
  try {
    await store.start();
  } catch (err) {
    const message =
      err instanceof SchemaTooNewError
        ? err.message
        : `cannot open ${describeTarget(config.target)}: ${err instanceof Error ? err.message : String(err)}`;
    throw new ConfigError([`DATABASE_URL: ${message}`]);
  }
  const retention = new RetentionJob({
    database: () => store.db,
    days: config.retentionDays,
    cron: config.retentionCron,
    log,
    keepFrom: options.keepFrom,
  });
  retention.start();
  return {
    store,
    database: () => store.db,
    listener: ledgerListener(store, { content: config.content, priceOf: options.priceOf }),
    keepsAnswerText: config.content === 'full',
    retention,
    async close(graceMs) {
      retention.stop();
      await store.close(graceMs);
    },
  };
}
