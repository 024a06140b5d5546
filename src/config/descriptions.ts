import type { EnvName } from './schema-info.js';

/**
 * What each environment variable means, for docs/configuration.md (scripts/config-docs.ts writes
 * the table from these, the schema's defaults and its allowed values). A setting added to the
 * schema without a line here fails test/unit/docs-config.test.ts. Links are relative to docs/.
 */
export const ENV_DESCRIPTIONS: Partial<Record<EnvName, string>> = {
  HOST: 'Address to bind: IPv4, IPv6 without brackets (`::` takes both; with no API keys, admin RPCs still answer only loopback callers) or a host name; no scheme or port (that is `PORT`).',
  WORKERS:
    "Processes serving the port (`node:cluster`), 1–64, or `auto` (one per CPU the process may run on, at most 64; a container's CPU quota is not seen, so set a number there). See [Several workers](operations.md#several-workers-on-one-machine-workers).",
  PORT: 'gRPC port; `0` picks a free one (logged).',
  V8_PRETENURING:
    "`off`: V8's allocation-site pretenuring is switched off at start, so a burst of calls in flight does not leave every later call's objects in the old generation (about a fifth less CPU per call at a steady rate after a spike; see [PERFORMANCE.md](PERFORMANCE.md#second-step-levers-each-on-an-interleaved-ab)). `on`: V8's default.",
  LOG_LEVEL: "Any case; Python's `WARNING` and `CRITICAL` mean `warn` and `fatal`. JSON lines on stdout, one per call.",
  ENVIRONMENT:
    'A name such as `development`, `test`, `local`, `staging` or `production`. Anything but development, dev, test, testing or local is a real deployment: with no provider configured the gateway refuses to start unless `SIMULATOR=on` ([operations.md](operations.md#simulated-models-in-a-deployment)). An `environment` field on every log line and the `deployment.environment.name` attribute of exported spans.',
  OPENAI_API_KEY: 'Enables provider `openai` (built-in catalog) unless the config file declares `openai` itself.',
  OPENAI_BASE_URL: 'Any OpenAI-compatible endpoint (http/https, SSRF-checked). Used only with a key.',
  OPENAI_ORGANIZATION: 'OpenAI organization id.',
  SIMULATOR:
    '`auto`: the embedded simulator when no real provider is configured. `on`: also next to real providers, for models whose provider is not configured. `off`: never.',
  SIMULATOR_LATENCY_SCALE: 'Multiplies simulated time to first token and token delays (0–100); `0`: as fast as possible.',
  SIMULATOR_PORT: 'Simulator port on 127.0.0.1; `0`: a free one (logged). Pin it to script faults (`$SIM` in [calling.md](calling.md)).',
  DEFAULT_MODEL:
    'For requests with an empty `model` (and no route); must be in the catalog at start-up: a built-in or config-file model, or one the database (`DATABASE_URL`) holds: a runtime model, or a model only a synced OpenRouter list has (once a sync stored it).',
  DEFAULT_TEMPERATURE: '0–2.',
  DEFAULT_MAX_TOKENS: "When `max_tokens` is unset; capped at each model's output limit. Also routing's answer length.",
  DEFAULT_TIMEOUT: 'Seconds, 0.001 to 3600 (fractions taken); the deadline of calls that arrive without one.',
  FALLBACK_DEFAULT_MESSAGE: "Fallback's answer when every model failed, one at least for an outage ([Fallback](calling.md#fallback)).",
  MAX_CONTENT_CHARS:
    'Longest `prompt`, message `content`, tool call `arguments` or Fallback `default_message`, in characters (Unicode code points: an emoji is one).',
  IMAGE_MAX_BYTES:
    'Largest image sent as bytes in a message part (gRPC `image.data`, HTTP `data:` URL). The request holding it must also fit `MAX_MESSAGE_BYTES` (4 MiB by default), where a `data:` URL takes 4/3 of its image: raise both for larger images.',
  RETRY_MAX_ATTEMPTS: 'Calls per model per request, the first included (1–10); `1`: no retries.',
  RETRY_INITIAL_BACKOFF_MS: 'Retry n waits a random time in [0, this·2ⁿ⁻¹) ms (full jitter)…',
  RETRY_MAX_BACKOFF_MS: '…with this·2ⁿ⁻¹ capped here. An upstream `Retry-After` replaces the wait.',
  RETRY_BUDGET_MAX_TOKENS: 'Retry throttling per model endpoint (provider + model, gRFC A6): bucket size (1–1000)…',
  RETRY_BUDGET_TOKEN_RATIO: '…−1 per retryable failure, +ratio per success (0.001–1); retries only while above half.',
  BREAKER_CONSECUTIVE_FAILURES: "Consecutive failures that open a model's circuit breaker.",
  BREAKER_FAILURE_RATE: 'A failure rate over the window above this also opens it (exactly this does not); `0` or `1` disables this rule.',
  BREAKER_SAMPLING_WINDOW_MS: 'That window (≥ 1000).',
  BREAKER_MIN_RPS: 'Requests per second a model needs before the rate rule applies (> 0).',
  BREAKER_HALF_OPEN_AFTER_MS: 'Open breaker cool-down; then one probe call decides.',
  ATTEMPT_TIMEOUT_MS: "Budget of one unary upstream call; `0`: the call's deadline only.",
  STREAM_FIRST_TOKEN_TIMEOUT_MS:
    "Give up on a streaming model with no token by then (`0`: never); a streamed piece of a reasoning model's thinking starts the window again.",
  STREAM_INTER_TOKEN_TIMEOUT_MS:
    'Give up on a streaming model silent this long between tokens (`0`: never); a streamed piece of thinking is not silence.',
  SHUTDOWN_GRACE_MS: 'Time in-flight calls get after SIGTERM/SIGINT (after `DRAIN_DELAY_MS`).',
  DRAIN_DELAY_MS:
    'After SIGTERM/SIGINT, health is NOT_SERVING at once but calls are still accepted this long; then new calls get UNAVAILABLE `DRAINING`. See [Drain](operations.md#drain-and-shutdown).',
  GRPC_KEEPALIVE_TIME_MS:
    'The server pings each connection this often (gRFC A8; grpc-js `grpc.keepalive_time_ms`); `0`: grpc-js default, no pings.',
  GRPC_KEEPALIVE_TIMEOUT_MS:
    'A ping not answered within this closes the connection (`grpc.keepalive_timeout_ms`); `0`: grpc-js default, 20000.',
  GRPC_MAX_CONNECTION_IDLE_MS:
    'Close a connection with no call open this long (HTTP/2 GOAWAY); clients reconnect for their next call. `0`: keep idle connections. See [Connection limits](operations.md#connection-limits).',
  GRPC_MAX_CONCURRENT_STREAMS:
    'Calls one connection may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`, at most 4294967295); a client past it queues. `0`: no limit.',
  GRPC_MAX_CONNECTIONS:
    'Connections each bound address accepts at once (per worker with `WORKERS` > 1); a connection past it is closed as soon as it is accepted (clients see UNAVAILABLE and retry). `0`: no limit. See [Connection limits](operations.md#connection-limits).',
  GRPC_MAX_METADATA_BYTES:
    'Largest request metadata of a call, its HTTP/2 header list counted as HPACK counts it (name, value and 32 bytes an entry; ≥ 1024), advertised as `SETTINGS_MAX_HEADER_LIST_SIZE`: a call over it gets RESOURCE_EXHAUSTED before any handler runs. 16 KiB, as the HTTP port takes and gRPC C-core refuses past. `0`: no limit but HPACK (64 KiB a value). See [Connection limits](operations.md#connection-limits).',
  GRPC_REQUEST_MESSAGE_TIMEOUT_MS:
    "Time from a call's headers to its whole request (for unary and server-streaming methods, the message and the end of the request); a half-open stream past it ends with DEADLINE_EXCEEDED. `0`: no limit.",
  GRPC_MAX_CONNECTION_AGE_MS:
    'Connections older than this get a GOAWAY, so clients reconnect and spread over replicas (gRFC A9; `grpc.max_connection_age_ms`); `0`: no limit.',
  GRPC_MAX_CONNECTION_AGE_GRACE_MS:
    'After that GOAWAY, calls still open on the connection get this long before it is closed (`grpc.max_connection_age_grace_ms`); `0`: no limit.',
  GRPC_MAX_SEND_MESSAGE_BYTES: 'Largest response message (`grpc.max_send_message_length`); `0`: no limit (grpc-js default).',
  CONFIG_FILE:
    'Providers, models, routing and access control file (YAML, or JSON when named `.json`); see [The config file](#the-config-file) and [API keys](access-and-limits.md#api-keys).',
  BATCH_MAX_ITEMS: 'Most items in one Batch (1–10000).',
  BATCH_DEFAULT_CONCURRENCY:
    "A batch's items running at once when `concurrency` is unset; at most `BATCH_MAX_CONCURRENCY` (a larger one stops start-up).",
  BATCH_MAX_CONCURRENCY: 'Largest `concurrency` a batch may ask for.',
  BATCH_GLOBAL_CONCURRENCY: 'Batch items running at once over all batches; interactive calls never wait for these slots.',
  REDIS_URL:
    '`redis://` or `rediss://`, with a database number after the host (`/2`) or none for 0 (one the server has, below its `databases` setting: another is a configuration error at start-up, exit code 2, and, on a server restarted with fewer, stops using Redis (REDIS_FAILURE_POLICY applies) until the gateway restarts; a password in the URL is redacted in logs and in configuration errors); shares rate limits, budgets and the response cache between replicas. See [Several replicas](operations.md#several-replicas-with-redis).',
  REDIS_FAILURE_POLICY:
    'Redis unreachable (or not answering a command within 500 ms, or refusing it: `maxmemory` reached under `noeviction`, a read-only replica): `local` (keep serving; each replica enforces limits and budgets alone) or `closed` (calls that need a limit or budget check get UNAVAILABLE `SHARED_STATE_UNAVAILABLE`).',
  RATE_LIMIT_REQUESTS:
    'Requests from all callers together per `RATE_LIMIT_WINDOW`, shared through Redis like the other limits. See [Rate limits](access-and-limits.md#rate-limits).',
  RATE_LIMIT_WINDOW: 'That window, in seconds (1–86400).',
  CACHE_TTL_SECONDS: 'How long a cached answer is served fresh.',
  CACHE_STALE_TTL_SECONDS: 'How long after storing an answer it is kept, for the stale offline fallback (`allow_stale`).',
  CACHE_MAX_ENTRIES: 'In-memory cache size (without Redis), 1–1000000; room for every entry is reserved at start.',
  CACHE_MAX_BYTES:
    'Memory the in-memory cache (without Redis) may hold, counted as the text of its answers and vectors (≥ 1048576, default 64 MiB); the least recently used answers leave first, and an answer larger than this is not cached.',
  CACHE_OFFLINE_FALLBACK:
    '`on`: when every model of a Chat, Race, Fallback or StreamChat call fails upstream, answer with an expired cached answer, marked stale, unless the request sets `refuse_stale` or is routed.',
  MAX_MESSAGE_BYTES: 'Largest request message (≥ 1024); bigger ones get RESOURCE_EXHAUSTED before any handler runs.',
  TLS_CERT_FILE:
    "PEM certificate chain, the server's certificate first: serve TLS (set `TLS_KEY_FILE` too, or neither). See [TLS and mTLS](access-and-limits.md#tls-and-mtls).",
  TLS_KEY_FILE: 'PEM private key of `TLS_CERT_FILE`.',
  TLS_CLIENT_CA_FILE: 'With TLS: require client certificates signed by this CA (mTLS).',
  LOG_FILE: 'Also write the log lines to this file (e.g. `logs/app.log`), rolled daily; see [Logs](operations.md#logs).',
  LOG_ROTATE: '`daily`: roll `LOG_FILE` at local midnight (UTC in the container) to `app-YYYY-MM-DD.log`; `off`: one growing file.',
  LOG_RETENTION_DAYS: 'Days rolled files are kept (0–36500); `0` keeps them all.',
  METRICS: '`off` disables the Prometheus endpoint.',
  HTTP_ENABLED:
    '`false` (or `off`, `0`) serves gRPC only; otherwise the [OpenAI-compatible HTTP API](openai-api.md) runs in the same process on the same engine.',
  HTTP_HOST: 'Address of the HTTP API; unset: `HOST`.',
  HTTP_PORT: 'Port of the HTTP API; `0` picks a free one (logged as `httpPort`).',
  HTTP_MAX_CONNECTIONS:
    'Connections the HTTP port holds at once (per worker with `WORKERS` > 1); one past it is closed as soon as it is accepted. `0`: no limit.',
  HTTP_REQUEST_TIMEOUT_MS:
    "Time from an HTTP request's first byte to its whole body, headers included; a request still arriving past it (a body stopped half way, headers trickled) gets 408 and its connection is closed. The answer's time is not counted. `0`: no limit.",
  DATABASE_URL:
    'Where the [ledger](ledger.md) is kept: unset, a SQLite file at `./data/orchestrator.db` (created on first start); `sqlite:<path>`; `sqlite::memory:` for throwaway runs; `postgres://user:pass@host:5432/db` for a ledger several replicas share; `off` for none.',
  LEDGER_CONTENT:
    "`none` (or `off`): no message content is recorded; `hash`: a SHA-256 of the prompt; `full`: prompt and answer (sensitive: treat the database like the logs of your users' text).",
  LEDGER_FLUSH_MS: 'The longest a ledger record waits in the queue (10–60000 ms); a full batch (`LEDGER_BATCH_SIZE`) is written at once.',
  LEDGER_QUEUE_MAX:
    'Ledger rows waiting to be written (1–1000000); past it new rows are dropped and counted (`llm_orchestrator_ledger_records_dropped_total`), never blocking a call.',
  LEDGER_BATCH_SIZE: 'Ledger records per transaction (1–5000); a full batch is written at once.',
  LEDGER_RETENTION_DAYS:
    "Ledger rows and [catalog sync runs](catalog-sync.md#the-runs-in-the-database) older than this many days (0–36500) are deleted by the retention job; `0` keeps everything. Without Redis, the current month's calls stay while a key has a monthly budget ([why](ledger.md#retention)).",
  KEYS_REFRESH_MS:
    'How often (100–600000 ms) each replica reloads the API keys managed at runtime (ApiKeyService) from the database: a revoked key is refused everywhere within about this long.',
  LEDGER_QUERY_TIMEOUT_MS:
    "PostgreSQL ledger only: the longest a query waits for the database's answer (100–2147483647 ms). Past it the query fails as the database away (UsageService answers `UNAVAILABLE`, the ledger keeps the batch and writes it later) and its connection is closed.",
  LEDGER_RETENTION_CRON:
    'When the retention job runs (cron syntax, UTC; a pattern that does not parse, or that no date matches, stops start-up); with several replicas on PostgreSQL one of them runs it.',
  CATALOG_POLL_MS:
    'How often (100–600000 ms) each replica looks in the database for [runtime models](catalog.md#runtime-models) and synced catalog data another replica wrote; a change is served within this time.',
  UPSTREAM_MAX_BODY_BYTES:
    'Largest upstream response body read whole (JSON answers, error bodies); an embeddings answer may take what its vectors need when that is more (48 bytes a value, 1 KiB a vector). Past it the connection is closed and the attempt fails with `UPSTREAM_MALFORMED_RESPONSE`, or, for an error status, with the reason of that status. See [security.md](security.md).',
  UPSTREAM_MAX_EVENT_BYTES:
    'Largest single server-sent event from an upstream stream; past it the stream is cut and the attempt fails the same way.',
  UPSTREAM_MAX_IN_FLIGHT:
    "Cap on upstream requests in flight per provider (a stream holds its slot until it ends); calls past it wait in the provider's queue. `0`: no cap. The config file's `providers[].max_in_flight` overrides it for one provider.",
  UPSTREAM_QUEUE_MAX:
    'Calls that may wait for a slot per provider; a call finding the queue full, or whose deadline comes before a slot, is refused with RESOURCE_EXHAUSTED (`PROVIDER_BUSY`) and RetryInfo. `0`: no waiting. Overridden by `providers[].queue_max`.',
  HTTPS_PROXY:
    'Forward proxy (`http://[user:password@]host:port`; without a scheme, `http://` is meant) for upstream calls and catalog sync to `https://` addresses; unset: they are reached directly, whatever `HTTP_PROXY` says (as curl and Go read it). The lower-case `https_proxy` is read too and wins. See [DEPLOYMENT.md](DEPLOYMENT.md#behind-a-forward-proxy).',
  HTTP_PROXY: 'Forward proxy for `http://` addresses only; `http_proxy` wins.',
  NO_PROXY:
    'Hosts reached directly: comma-separated names (a name covers its subdomains; `.example.com` too), `host:port`, IP addresses (IPv6 bare or in brackets), or `*` for all (alone or in the list); no address ranges (`10.0.0.0/8`). `localhost`, `127.0.0.1` and `[::1]` are always direct. `no_proxy` wins.',
  METRICS_HOST: 'Address of the `/metrics` HTTP server; unset: `HOST`.',
  METRICS_PORT: 'Its port; `0` picks a free one (logged).',
  OTEL_EXPORTER_OTLP_ENDPOINT:
    "OTLP/HTTP collector's base URL (e.g. `http://otel-collector:4318`; `/v1/traces` and `/v1/metrics` are added to it, so one already ending in such a path is refused): export a span per call and per upstream attempt. Unset: no OpenTelemetry code is loaded. OTLP/gRPC is not spoken: with this set, `OTEL_EXPORTER_OTLP_PROTOCOL` (or its `_TRACES_`/`_METRICS_` form) `grpc` is a configuration error.",
  OTEL_SERVICE_NAME:
    '`service.name` of those spans and metrics; unset: the `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `llm-orchestrator`.',
  OTEL_RESOURCE_ATTRIBUTES:
    'Attributes of the resource spans and metrics are exported under (`service.namespace=ai,k8s.pod.name=gw-0`; `,` and `=` inside a key or value written `%2C` and `%3D`). `OTEL_SERVICE_NAME` and `ENVIRONMENT` win over the `service.name` and `deployment.environment.name` in it. A malformed list is a configuration error while spans are exported.',
  OTEL_SDK_DISABLED:
    "`true`: export no spans and no OTLP metrics, whatever `OTEL_EXPORTER_OTLP_ENDPOINT` says (OpenTelemetry's standard switch); `traceparent` still propagates. Any other value than `true` or `false` is a configuration error.",
};
