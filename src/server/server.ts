import * as grpc from '@grpc/grpc-js';
import { acceptFarDeadlines } from './far-deadlines.js';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Engine } from '../engine/index.js';
import { ChatServiceService } from '../gen/orchestrator/v1/chat.js';
import { ModelServiceService } from '../gen/orchestrator/v1/models.js';
import { StatsServiceService } from '../gen/orchestrator/v1/stats.js';
import type { StatsStore } from '../telemetry/stats.js';
import type { CallDeps } from './call.js';
import { draining } from '../domain/errors.js';
import { chatService } from './handlers/chat.js';
import { embeddingService } from './handlers/embedding.js';
import { EmbeddingServiceService } from '../gen/orchestrator/v1/embedding.js';
import { modelService } from './handlers/models.js';
import type { LiveCatalog } from '../catalog/live.js';
import { statsService, type StatsSource } from './handlers/stats.js';
import { HealthRegistry } from './health.js';
import { callInterceptor } from './interceptors/call-state.js';
import { Lifecycle } from './lifecycle.js';
import { addReflection } from './reflection.js';
import { isIP } from 'node:net';
import type { ApiKeyStore } from '../access/keys.js';
import { callObserverOf } from '../telemetry/call-observer.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Tracer } from '../telemetry/tracing.js';
import type { RunningLedger } from '../store/index.js';
import type { StoredApiKey } from '../store/api-keys.js';
import { UsageServiceService } from '../gen/orchestrator/v1/usage.js';
import { usageService } from './handlers/usage.js';
import { capConnections } from './connection-cap.js';
import { limitMetadata } from './metadata-limit.js';
import { ApiKeyServiceService } from '../gen/orchestrator/v1/keys.js';
import { apiKeyService } from './handlers/keys.js';
import { unsharedLimits } from '../cluster/checks.js';
import { tolerantRequests } from './undecodable.js';
import { listenError } from '../config/listen-error.js';
import type { TlsFiles } from '../config/tls-files.js';
import { Server as TlsServer } from 'node:tls';
import { TlsHandshakes } from '../domain/tls-handshakes.js';
import { closeConnectionsAfterCalls, knownHttp2Servers } from './http2-servers.js';
import { answerUnknownMethods } from './unknown-methods.js';
import { redactDroppedMetadata } from './grpc-log.js';

/** TLS when TLS_CERT_FILE/TLS_KEY_FILE are set; with TLS_CLIENT_CA_FILE clients must present a certificate it signed. */
function credentialsOf(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined);
}

export const SERVICE_NAMES = [
  'orchestrator.v1.ChatService',
  'orchestrator.v1.ModelService',
  'orchestrator.v1.StatsService',
  'orchestrator.v1.EmbeddingService',
] as const;

export interface GatewayServerOptions {
  readonly config: Config;
  /** The TLS files as the configuration read them; undefined: plaintext. */
  readonly tls: TlsFiles | undefined;
  readonly engine: Engine;
  readonly stats: StatsStore;
  /** What GetStats reports; default `stats` (a cluster worker: every worker's sum). */
  readonly statsSource?: StatsSource | undefined;
  readonly log: Logger;
  /** Configured API keys; with none the service is open. */
  readonly keys: ApiKeyStore;
  /** Prometheus metrics (METRICS=on). */
  readonly metrics?: Metrics | undefined;
  /** Trace propagation, and spans when OTLP export is configured. */
  readonly tracer?: Tracer | undefined;
  /** The call ledger: every chat call is recorded; UsageService reads it. */
  readonly ledger?: RunningLedger | undefined;
  /** The catalog as it changes at runtime: ModelService's CreateModel, SyncCatalog and the rest. */
  readonly catalog?: LiveCatalog | undefined;
  /** Applies a runtime API key row an ApiKeyService change wrote, then re-reads the keys from the database. */
  readonly keysWritten?: ((row: StoredApiKey) => Promise<void>) | undefined;
}

/** The grpc-js server with our services, health, reflection and interceptors. */
export class GatewayServer {
  readonly health = new HealthRegistry();
  readonly lifecycle = new Lifecycle();
  private readonly server: grpc.Server;
  private readonly log: Logger;
  private readonly config: Config;
  private readonly tls: TlsFiles | undefined;
  /** With TLS: each bound port's connections still in their handshake, which a stop closes. */
  private readonly handshakes: TlsHandshakes[] = [];
  private stopping: Promise<void> | undefined;

  constructor(options: GatewayServerOptions) {
    const { config, engine, stats, log, keys, tracer, statsSource, ledger } = options;
    const observer = callObserverOf(engine.events, ledger?.keepsAnswerText);
    this.log = log;
    this.config = config;
    this.tls = options.tls;
    acceptFarDeadlines();
    redactDroppedMetadata();
    this.server = new grpc.Server({
      // One layer for request id, log line, API key and deadline: it writes the call's state
      // once, and being the only interceptor it sees every status the client gets.
      // WatchStats runs until the caller leaves: it gets no default deadline (a caller's still applies).
      interceptors: [
        callInterceptor({
          log,
          observer,
          keys,
          defaultTimeoutMs: config.defaults.timeoutMs,
          openEnded: new Set([StatsServiceService.watchStats.path]),
          requestMessageTimeoutMs: config.requestMessageTimeoutMs,
          maxMetadataBytes: config.maxMetadataBytes,
          ...(tracer ? { tracer } : {}),
        }),
      ],
      // Bigger requests are refused by grpc-js with RESOURCE_EXHAUSTED before any handler runs.
      'grpc.max_receive_message_length': config.maxMessageBytes,
      // Channelz (grpc-js's introspection service, which we do not serve) keeps per-call
      // counters and call trackers: a few percent of the CPU of a unary call.
      'grpc.enable_channelz': 0,
      ...config.grpcServerOptions,
    });
    const deps: CallDeps = {
      log,
      lifecycle: this.lifecycle,
      defaultTimeoutMs: config.defaults.timeoutMs,
    };
    const limits = {
      maxContentChars: config.limits.maxContentChars,
      maxModelsPerCall: config.limits.maxModelsPerCall,
      maxImageBytes: config.limits.maxImageBytes,
      defaultTemperature: config.defaults.temperature,
      batchMaxItems: config.batch.maxItems,
      batchDefaultConcurrency: config.batch.defaultConcurrency,
      batchMaxConcurrency: config.batch.maxConcurrency,
    };
    this.server.addService(tolerantRequests(ChatServiceService), chatService(deps, engine, limits));
    // Read at each call: runtime keys can turn an open service into a keyed one.
    const access = {
      keysEnabled: () => keys.enabled,
      isAdmin: (name: string): boolean => keys.byKeyName(name)?.scopes.includes('admin') ?? false,
    };
    this.server.addService(tolerantRequests(ModelServiceService), modelService(deps, engine, limits, { live: options.catalog, access }));
    this.server.addService(tolerantRequests(StatsServiceService), statsService(deps, statsSource ?? stats, engine));
    this.server.addService(tolerantRequests(EmbeddingServiceService), embeddingService(deps, engine));
    if (ledger) {
      this.server.addService(tolerantRequests(UsageServiceService), usageService(deps, ledger, access));
      this.health.setStatus('orchestrator.v1.UsageService', 'SERVING');
      const wrote = options.keysWritten ?? (() => Promise.resolve());
      this.server.addService(
        tolerantRequests(ApiKeyServiceService),
        apiKeyService(deps, {
          keys,
          access,
          database: () => ledger.database()?.db,
          databaseOff: ledger.store === undefined,
          wrote,
          unsharedLimits: unsharedLimits(config),
        }),
      );
      this.health.setStatus('orchestrator.v1.ApiKeyService', 'SERVING');
    }
    this.server.addService(this.health.definition, this.health.implementation);
    addReflection(this.server);
    for (const name of SERVICE_NAMES) this.health.setStatus(name, 'SERVING');
    this.health.setStatus('', 'SERVING');
  }

  /** Binds and returns the port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // grpc-js reads `host:port` as a target: an IPv6 address (HOST=::) needs its brackets.
      const address = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
      this.server.bindAsync(address, credentialsOf(this.tls), (err, bound) => {
        if (err) return reject(listenError(err, { what: 'gRPC port', host, port, portSetting: 'PORT', hostSetting: 'HOST' }));
        try {
          limitMetadata(this.server, this.config.maxMetadataBytes);
          capConnections(this.server, this.config.maxConnections);
          answerUnknownMethods(this.server, this.log);
          if (this.tls) {
            for (const bound of knownHttp2Servers(this.server))
              if (bound instanceof TlsServer) this.handshakes.push(new TlsHandshakes(bound));
          }
        } catch (capError) {
          this.server.forceShutdown();
          return reject(capError instanceof Error ? capError : new Error(String(capError)));
        }
        resolve(bound);
      });
    });
  }

  /**
   * Graceful stop: health NOT_SERVING at once, new calls refused with UNAVAILABLE after
   * `drainDelayMs` (0 after a failed start-up: no load balancer was told it serves), in-flight
   * calls get `graceMs` to finish, then open streams end with UNAVAILABLE, health watches end,
   * tryShutdown, and forceShutdown if connections linger.
   */
  shutdown(graceMs = this.config.shutdownGraceMs, drainDelayMs = this.config.drainDelayMs): Promise<void> {
    this.stopping ??= this.drainAndStop(graceMs, drainDelayMs);
    return this.stopping;
  }

  private async drainAndStop(graceMs: number, drainDelayMs: number): Promise<void> {
    this.health.setAll('NOT_SERVING');
    // Load balancers watching health need a moment to move traffic elsewhere.
    if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs));
    this.lifecycle.startDraining();
    closeConnectionsAfterCalls(this.server);
    const idle = await this.lifecycle.waitForIdle(graceMs);
    if (!idle) {
      this.log.warn({ inFlight: this.lifecycle.active }, 'grace period over; ending the calls still running');
      this.lifecycle.endAll(draining());
    }
    this.health.endWatches(grpc.status.UNAVAILABLE, 'server is shutting down');
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
      // The ports no longer accept: no handshake starts after these.
      for (const pending of this.handshakes) pending.closeAll();
    });
  }
}
