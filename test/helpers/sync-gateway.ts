import { pino } from 'pino';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { type Clients, clientsFor } from './grpc-client.js';

/** A gateway that syncs its catalog as its config file says, with the log lines it wrote. */
export interface SyncGateway<Line> {
  readonly app: App;
  readonly clients: Clients;
  /** Every log line so far, parsed, at info and above. */
  readonly logs: Line[];
  close(): Promise<void>;
}

/**
 * The gateway of the catalog sync tests: the config file `configFile` (its providers and sync
 * sources), no simulator, the ledger in memory, OpenRouter's key set; `env` adds or overrides
 * settings (METRICS, for one).
 */
export async function startSyncGateway<Line>(configFile: string, env: Readonly<Record<string, string>> = {}): Promise<SyncGateway<Line>> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    SIMULATOR: 'off',
    METRICS: 'off',
    HTTP_PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    CONFIG_FILE: configFile,
    ...env,
  });
  const logs: Line[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Line) });
  const app = await startApp(config, log, { OPENROUTER_API_KEY: 'or-key' });
  const clients = clientsFor(app.port);
  return {
    app,
    clients,
    logs,
    close: async () => {
      clients.close();
      await app.stop(200);
    },
  };
}
