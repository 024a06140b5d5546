import type { Logger } from 'pino';
import { Catalog, type CatalogModel, type CatalogOptions } from './catalog/catalog.js';
import { composeCatalog, type ComposedCatalog } from './catalog/layers.js';
import type { LiveCatalog } from './catalog/live.js';
import { startLiveCatalog } from './catalog/start-sync.js';
import { DEFAULT_EMBEDDING_MODEL, EmbeddingCatalog } from './catalog/embedding-models.js';
import { BUILTIN_MODELS } from './catalog/models.js';
import { syncMetrics } from './catalog/sync-metrics.js';
import type { SyncRunner } from './catalog/sync/types.js';
import { CatalogStore } from './store/catalog-store.js';
import { ConfigError, type Config } from './config/config.js';
import type { FileConfig } from './config/file.js';
import { completeConfig, type ResolvedConfig } from './config/resolve.js';
import { registerConfiguredProviders } from './configured-providers.js';
import { Engine, EventBus, DEFAULT_PROFILE_WEIGHTS, type ProfileWeights, type RoutingProfileName } from './engine/index.js';
import { SIMULATOR_ANTHROPIC_PROVIDER, SIMULATOR_PROVIDER, startSimulatedProviders } from './simulated-providers.js';
import { ProviderRegistry } from './providers/registry.js';
import type { Simulator } from './simulator/index.js';
import { GatewayServer } from './server/server.js';
import { StatsStore } from './telemetry/stats.js';
import { Metrics, type BreakerReading } from './telemetry/metrics.js';
import { startMetricsServer, type MetricsServer } from './telemetry/metrics-server.js';
import { createTracer, LAST_EXPORT_BY_MS } from './telemetry/create-tracer.js';
import { AccessController } from './access/controller.js';
import { Budgets } from './access/budgets.js';
import type { Kysely } from 'kysely';
import type { LedgerSchema } from './store/schema.js';
import { ResponseCache } from './cache/response-cache.js';
import { ApiKeyStore } from './access/keys.js';
import { RateLimits } from './access/limits.js';
import { connectRedis } from './access/redis.js';
import { storedKeyProblems, unsharedKeyWarner } from './cluster/checks.js';
import { ClusterStats } from './cluster/worker.js';
import type { HttpGateway } from './http/server.js';
import { callObserverOf } from './telemetry/call-observer.js';
import { costOf } from './catalog/catalog.js';
import { startLedger, type RunningLedger } from './store/index.js';
import { budgetedCallsFrom, ledgerSpendRecord, startKeySync } from './store/access-wiring.js';
import { configReloader } from './config-reload.js';
import { logListening } from './startup-log.js';
import { StartedResources } from './started-resources.js';

export interface App {
  readonly port: number;
  readonly server: GatewayServer;
  /** The OpenAI-compatible HTTP API; undefined with HTTP_ENABLED=false. */
  readonly http: { readonly gateway: HttpGateway; readonly port: number; readonly url: string } | undefined;
  readonly stats: StatsStore;
  readonly engine: Engine;
  /** Present unless METRICS=off. */
  readonly metrics: Metrics | undefined;
  /** The /metrics endpoint (its port: METRICS_PORT, or the one picked for 0). */
  readonly metricsServer: MetricsServer | undefined;
  /** Present when simulated models are served. */
  readonly simulator: Simulator | undefined;
  /** The call ledger (DATABASE_URL). */
  readonly ledger: RunningLedger;
  /** The catalog as it changes at runtime (runtime models, synced data). */
  readonly catalog: LiveCatalog;
  /** Re-reads the config file's API keys and global limits (SIGHUP); a file that no longer loads leaves them as they were. */
  reloadKeys(): void;
  stop(graceMs?: number): Promise<void>;
}

/**
 * The composition root: config (+ CONFIG_FILE) -> providers -> catalog -> engine -> server.
 * Used by serve.ts and by the integration tests, which start it on port 0.
 */
export interface StartOptions {
  /**
   * This process is one worker of WORKERS > 1: GetStats asks the primary for every worker's
   * counters, and the primary serves /metrics (this worker's registry is collected from it).
   */
  readonly clusterWorker?: boolean;
  /**
   * A worker replacing one that died: what the database came to hold while the workers served (keys'
   * limits they cannot share, a runtime DEFAULT_MODEL deleted) is served with a warning as they serve
   * it: refused, every replacement would fail and stop the service.
   */
  readonly replacesWorker?: boolean;
  /** Runs catalog sources for ModelService.SyncCatalog; without one, SyncCatalog says no source is configured. */
  readonly catalogSync?: SyncRunner;
}

/**
 * `given` is normally resolveConfig()'s result; settings parsed alone (tests) are completed here,
 * with providers' key variables read from `env`.
 */
export async function startApp(
  given: Config | ResolvedConfig,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  options: StartOptions = {},
): Promise<App> {
  const started = new StartedResources<Closing>();
  try {
    return await assemble(completeConfig(given, env), log, options, started);
  } catch (err) {
    // Start-up's own error is the one to report.
    await started.closeAll(FAILED_START).catch(() => undefined);
    throw err;
  }
}

/** What each close is told: a stop's grace, or none after a failed start-up. */
interface Closing {
  /** What calls in flight get at the doors; undefined is SHUTDOWN_GRACE_MS. */
  readonly graceMs: number | undefined;
  /** How long the doors say NOT_SERVING before refusing calls; undefined is DRAIN_DELAY_MS. */
  readonly drainDelayMs: number | undefined;
  /** What the ledger gets to write the records still queued. */
  ledgerGraceMs(): number;
  /** What the last spans and metrics get to reach the collector (after the ledger's writes); undefined: the tracer's own bound. */
  exportGraceMs(): number | undefined;
}

/** A start-up that failed let no call in and told no load balancer it serves: nothing to drain or wait for. */
const FAILED_START: Closing = { graceMs: 0, drainDelayMs: 0, ledgerGraceMs: () => 0, exportGraceMs: () => undefined };

async function assemble(config: ResolvedConfig, log: Logger, options: StartOptions, started: StartedResources<Closing>): Promise<App> {
  const file = config.file;
  const registry = new ProviderRegistry();
  started.add(() => registry.closeAll());
  await registerConfiguredProviders(config, registry, log);
  // Before the simulator's providers join: the providers the configuration names.
  const configured = new Map(registry.names().map((n) => [n, n]));
  const simulator = await startSimulatedProviders(config, registry);
  started.add(() => simulator?.close());
  const kindOf = new Map((file?.providers ?? []).map((p) => [p.name, p.kind]));
  // What a file adds to the catalog; a SIGHUP checks a changed file's as start-up checks this one's.
  const fileLayers = (f: FileConfig | undefined) => ({
    builtin: f?.includeBuiltinModels === false ? [] : BUILTIN_MODELS,
    config: f?.models ?? [],
    openRouterProvider: openRouterProviderOf(f, configured),
  });
  const { builtin, config: configModels, openRouterProvider } = fileLayers(file);
  const bind = (composed: ComposedCatalog): CatalogOptions => ({
    models: composed.models,
    origins: composed.origins,
    providers: configured,
    ...(simulator
      ? {
          simulatorFor: (m: { provider: string }) =>
            kindOf.get(m.provider) === 'anthropic' ? SIMULATOR_ANTHROPIC_PROVIDER : SIMULATOR_PROVIDER,
        }
      : {}),
  });
  const fileCatalog = (f: FileConfig | undefined): Catalog =>
    catalogOrConfigError(config, () => new Catalog(bind(composeCatalog({ ...fileLayers(f), runtime: [], synced: [] }))));
  const catalog = fileCatalog(file);
  const keys = new ApiKeyStore(file?.access.apiKeys ?? []);
  const redis = config.redis.url ? await connectRedis(config.redis.url, log) : undefined;
  started.add(() => redis?.disconnect());
  const store = { redis, failurePolicy: config.redis.failurePolicy };
  const limits = new RateLimits(
    store,
    file?.access.global ?? { requestsPerMinute: undefined, tokensPerMinute: undefined },
    keys.all(),
    config.globalRequestWindow,
  );
  // Keys created, changed or revoked at runtime (and SIGHUP) bring their limits along.
  keys.onChange((entries) => limits.setKeys(entries));
  // Without Redis, budgets come from the ledger's record (read once the ledger is open, below).
  let ledgerDb: () => Kysely<LedgerSchema> | undefined = () => undefined;
  const budgets = new Budgets(store, redis || config.ledger.target.kind === 'off' ? undefined : ledgerSpendRecord(() => ledgerDb(), log));
  const access = new AccessController(keys, limits, budgets, catalog);
  const cache = new ResponseCache({
    ttlMs: config.cache.ttlSeconds * 1000,
    staleTtlMs: config.cache.staleTtlSeconds * 1000,
    maxEntries: config.cache.maxEntries,
    maxBytes: config.cache.maxBytes,
    redis,
  });
  const stats = new StatsStore();
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  const embeddings = new EmbeddingCatalog({
    providers: configured,
    ...(simulator ? { simulatorFor: () => SIMULATOR_PROVIDER } : {}),
  });
  const engine = new Engine({
    access,
    cache,
    cacheOfflineFallback: config.cache.offlineFallback,
    catalog,
    embeddings,
    providers: registry,
    events: metrics ? new EventBus(stats.on, metrics.on) : new EventBus(stats.on),
    defaults: {
      model: config.defaults.model,
      maxTokens: config.defaults.maxTokens,
      fallbackMessage: config.defaults.fallbackMessage,
    },
    resilience: config.resilience,
    inFlightPerProvider: new Map(
      config.providers.map(({ spec }) => [spec.name, { maxInFlight: spec.maxInFlight, queueMax: spec.queueMax }]),
    ),
    routing: { weights: routingWeights(file), fallbackDepth: file?.routing.fallbackDepth ?? 3 },
    batch: { globalConcurrency: config.batch.globalConcurrency },
  });
  metrics?.watchBreakers(() => breakerReadings([...catalog.models, ...embeddings.models], engine));
  metrics?.watchInFlight(() => engine.inFlight());
  // Loads OpenTelemetry only when OTEL_EXPORTER_OTLP_ENDPOINT is set; then the GenAI client metrics listen on the event port too.
  const tracer = await createTracer(config.tracing, engine.events, log);
  started.add((closing) => tracer.shutdown(closing.exportGraceMs()));
  // Opened before the ledger so that a stop closes it after the ledger's last writes.
  const metricsServer = metrics && !options.clusterWorker ? await startMetricsServer(metrics, config.metrics) : undefined;
  started.add(() => metricsServer?.close());
  const statsSource = options.clusterWorker ? new ClusterStats(stats, log, metrics?.registry) : undefined;
  const ledger = await startLedger({
    config: config.ledger,
    log,
    priceOf: (id, usage) => {
      // An Embed cache hit saves its embedding model's price, which the chat catalog does not hold.
      const model = catalog.find(id) ?? embeddings.find(id);
      return model ? costOf(model, usage) : undefined;
    },
    registry: metrics?.registry,
    // Budgets read back from the ledger after a restart need the month's calls.
    keepFrom: redis ? undefined : budgetedCallsFrom(keys),
  });
  started.add((closing) => ledger.close(closing.ledgerGraceMs()));
  // A key's spend this month is summed over its calls: on a SQLite file, off the event loop.
  ledgerDb = () => ledger.database()?.reads;
  // The ledger listens where stats and metrics do: calls through either door are recorded.
  started.add(engine.events.subscribe(ledger.listener));
  const keySync = await startKeySync(ledger, keys, config.ledger.keysRefreshMs, log);
  started.add(() => keySync?.stop());
  const catalogRuntime = await startLiveCatalog({
    live: {
      catalog,
      builtin,
      config: configModels,
      bind,
      providers: new Set(['openai', ...kindOf.keys(), ...configured.keys()]),
      openRouterProvider,
      pollMs: config.catalogPollMs,
      log,
      ...(metrics ? { onReport: syncMetrics(metrics.registry) } : {}),
    },
    store: ledger.store ? new CatalogStore(() => ledger.database()) : undefined,
    sync: file?.catalogSync && { ...file.catalogSync, proxy: config.upstream.proxy },
    runner: options.catalogSync,
    database: config.ledger.target,
  });
  // Closed after the doors: stopping the catalog sync cancels its runs, a SyncCatalog in flight among them.
  started.add(() => catalogRuntime.stop());
  // Problems only the database shows: stored keys workers cannot share; a DEFAULT_MODEL that is a runtime model is found only now.
  const runtimeKeys = keys.all().flatMap((k) => (k.source === 'runtime' ? [k.spec] : []));
  const storedProblems = options.replacesWorker ? [] : storedKeyProblems(config, runtimeKeys);
  const defaultEmbedding = embeddings.find(config.defaults.model);
  if (defaultEmbedding)
    storedProblems.push(
      `DEFAULT_MODEL: "${config.defaults.model}" is the embedding model ${defaultEmbedding.id}, not a chat model: DEFAULT_MODEL answers chat calls that name no model (Embed's default is ${DEFAULT_EMBEDDING_MODEL})`,
    );
  else if (!catalog.find(config.defaults.model)) storedProblems.push(defaultModelMissing(config.defaults.model));
  if (storedProblems.length > 0) {
    if (!options.replacesWorker) throw new ConfigError(storedProblems);
    // The database changed while the workers served (a runtime DEFAULT_MODEL deleted): they serve on, refusing only the calls it breaks.
    log.warn({ problems: storedProblems }, 'start-up would refuse what the database holds now: serving as the other workers do');
  }
  const warnUnshared = unsharedKeyWarner(config, log);
  keys.onChange(warnUnshared);
  // The keys already read are no change: told once here, as the first workers' checks told them.
  if (options.replacesWorker) warnUnshared(keys.all());
  // Fastify is loaded only when the HTTP API is on.
  const httpGateway = config.http.enabled
    ? new (await import('./http/server.js')).HttpGateway({
        config,
        tls: config.tlsFiles,
        engine,
        stats: statsSource ?? stats,
        log,
        keys,
        tracer,
        observer: callObserverOf(engine.events, ledger.keepsAnswerText),
      })
    : undefined;
  const server = new GatewayServer({
    config,
    tls: config.tlsFiles,
    engine,
    stats,
    statsSource,
    log,
    keys,
    metrics,
    tracer,
    ledger,
    catalog: catalogRuntime.live,
    keysWritten: (row) => keySync?.wrote(row) ?? Promise.resolve(),
  });
  const warnIfOpen = (): void => {
    if (keys.runtimeKeysUnread)
      log.warn(
        'the API keys in the database are not read yet (it is not reachable): calls without a config-file key are refused until they are',
      );
    else if (!keys.enabled) log.warn('no API keys are configured: the service is open to every caller (see docs/access-and-limits.md)');
    else if (keys.all().length === 0)
      log.error('no API key is left: every call is refused until one is added (a restart without keys opens the service)');
  };
  // Both doors drain together: health says so at once on both, calls in flight share the grace period.
  started.add(({ graceMs, drainDelayMs }) =>
    Promise.all([server.shutdown(graceMs, drainDelayMs), httpGateway?.shutdown(graceMs, drainDelayMs)]),
  );
  warnIfOpen();
  const port = await server.listen(config.host, config.port);
  const httpPort = await httpGateway?.listen(config.http);
  logListening(config, log, {
    port,
    httpPort,
    providers: registry.names(),
    configured: configured.size,
    simulator,
    simulatedModels: catalog.models.filter((m) => m.simulated).map((m) => m.id),
    metricsUrl: metricsServer?.url,
  });
  const http =
    httpGateway && httpPort !== undefined
      ? { gateway: httpGateway, port: httpPort, url: `${config.tls ? 'https' : 'http'}://${urlHost(config.http.host)}:${httpPort}` }
      : undefined;
  return {
    port,
    server,
    http,
    stats,
    engine,
    metrics,
    metricsServer,
    simulator,
    ledger,
    catalog: catalogRuntime.live,
    reloadKeys: configReloader({
      config,
      log,
      keys,
      limits,
      warnIfOpen,
      // As start-up checks it: fileCatalog throws for a fallback to an unknown model or a name two
      // models use; start-up finds DEFAULT_MODEL in the database too (a runtime model, a synced list's).
      checkCatalog: (reloaded) => {
        const model = config.defaults.model;
        const found = fileCatalog(reloaded).find(model) ?? catalogRuntime.live.findWithFile(fileLayers(reloaded), model);
        if (!found) throw new ConfigError([defaultModelMissing(model)]);
      },
    }),
    stop(graceMs?: number) {
      // The ledger writes within the same grace period as the calls (and at least a second after
      // them), not a grace of its own after it: serve.ts ends the process at drain delay + grace + 5 s.
      const ledgerBy = Date.now() + config.drainDelayMs + (graceMs ?? config.shutdownGraceMs);
      const ledgerGraceMs = () => Math.max(ledgerBy - Date.now(), LEDGER_LAST_FLUSH_MS);
      const exportGraceMs = () => ledgerBy + LAST_EXPORT_BY_MS - Date.now();
      return started.closeAll({ graceMs, drainDelayMs: undefined, ledgerGraceMs, exportGraceMs });
    },
  };
}

/** What the ledger gets to write the records of the calls the grace period's end cut. */
const LEDGER_LAST_FLUSH_MS = 1_000;

/** A host for a URL: the wildcard binds are reached on loopback, IPv6 literals need brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Every listed model's breaker, the embedding models' included (Embed calls go through them as chat calls do). */
function breakerReadings(models: readonly CatalogModel[], engine: Engine): BreakerReading[] {
  return models.flatMap((m) => (m.servedBy === undefined ? [] : [{ provider: m.servedBy, model: m.id, state: engine.breakerState(m.id) }]));
}

/**
 * The provider that reaches OpenRouter: one named "openrouter", or one whose base URL is OpenRouter's.
 * Models only OpenRouter lists are served by it, without a line in the config file.
 */
function openRouterProviderOf(file: FileConfig | undefined, configured: ReadonlyMap<string, string>): string | undefined {
  if (configured.has('openrouter')) return 'openrouter';
  return file?.providers.find((p) => configured.has(p.name) && /^https?:\/\/([^/]*\.)?openrouter\.ai(\/|$)/i.test(p.baseURL))?.name;
}

function defaultModelMissing(model: string): string {
  return `DEFAULT_MODEL: "${model}" is not in the catalog: not a built-in or config-file model, nor a runtime or synced model in the database (ListModels shows the catalog)`;
}

/** Catalog problems (duplicate names, unknown fallbacks) are configuration errors: exit 2, naming the file. */
function catalogOrConfigError(config: Config, build: () => Catalog): Catalog {
  try {
    return build();
  } catch (err) {
    const where = config.configFile ? `${config.configFile}: models: ` : '';
    throw new ConfigError([`${where}${err instanceof Error ? err.message.replace(/^catalog: /, '') : String(err)}`]);
  }
}

function routingWeights(file: FileConfig | undefined): Record<RoutingProfileName, ProfileWeights> {
  const weights = { ...DEFAULT_PROFILE_WEIGHTS };
  for (const [profile, override] of Object.entries(file?.routing.profiles ?? {}) as [RoutingProfileName, Partial<ProfileWeights>][]) {
    weights[profile] = { ...weights[profile], ...override };
  }
  return weights;
}
