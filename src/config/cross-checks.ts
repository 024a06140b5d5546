import type { Config } from './config.js';
import { maskUrlPassword } from '../domain/url-password.js';
import { emptyAsUndefined } from './env-values.js';
import { httpConfig } from './http-env.js';
import { retentionProblems } from './ledger-env.js';
import { resourceAttributeProblems } from './otel-env.js';

/** The parsed settings whose problems show only together. */
interface Settings {
  readonly HOST: string;
  readonly PORT: number;
  readonly HTTP_ENABLED: string;
  readonly HTTP_HOST?: string | undefined;
  readonly HTTP_PORT: number;
  readonly HTTP_REQUEST_TIMEOUT_MS: number;
  readonly HTTP_MAX_CONNECTIONS: number;
  readonly METRICS: string;
  readonly METRICS_HOST?: string | undefined;
  readonly METRICS_PORT: number;
  readonly TLS_CERT_FILE?: string | undefined;
  readonly TLS_KEY_FILE?: string | undefined;
  readonly TLS_CLIENT_CA_FILE?: string | undefined;
  readonly BATCH_DEFAULT_CONCURRENCY: number;
  readonly BATCH_MAX_CONCURRENCY: number;
  readonly LEDGER_RETENTION_DAYS: number;
  readonly LEDGER_RETENTION_CRON: string;
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly OTEL_SDK_DISABLED: string;
  readonly OTEL_RESOURCE_ATTRIBUTES?: string | undefined;
}

/** The /metrics endpoint's listener (METRICS, METRICS_HOST, METRICS_PORT). */
export interface MetricsConfig {
  readonly enabled: boolean;
  readonly host: string;
  /** The setting `host` came from, for a bind error to name: HOST when METRICS_HOST is unset. */
  readonly hostSetting: 'METRICS_HOST' | 'HOST';
  readonly port: number;
}

export function metricsConfig(e: Pick<Settings, 'HOST' | 'METRICS' | 'METRICS_HOST' | 'METRICS_PORT'>): MetricsConfig {
  return {
    enabled: e.METRICS === 'on',
    host: e.METRICS_HOST ?? e.HOST,
    hostSetting: e.METRICS_HOST === undefined ? 'HOST' : 'METRICS_HOST',
    port: e.METRICS_PORT,
  };
}

/** A port the process listens on, by the setting that moves it. */
interface Listener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

/** The embedded simulator listens on loopback only. */
export const SIMULATOR_HOST = '127.0.0.1';

/** Problems of settings that are each valid alone; `given` is the environment as the user wrote it. */
export function crossSettingProblems(e: Settings, given: Readonly<Record<string, string | undefined>>): string[] {
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    return ['TLS_CERT_FILE and TLS_KEY_FILE: set both to serve TLS, or neither'];
  }
  if (e.TLS_CLIENT_CA_FILE !== undefined && e.TLS_CERT_FILE === undefined) {
    return ['TLS_CLIENT_CA_FILE: mTLS needs TLS_CERT_FILE and TLS_KEY_FILE too'];
  }
  const listeners = gatewayListeners({
    host: e.HOST,
    port: e.PORT,
    http: httpConfig(e, e.HOST),
    metrics: metricsConfig(e),
  });
  const byDefault = (name: string): boolean => emptyAsUndefined(given[name]) === undefined;
  return [...clashes(listeners, byDefault), ...batchProblems(e, byDefault), ...retentionProblems(e), ...otlpProblems(e, given)];
}

/** OpenTelemetry's settings of the protocol its exporters speak: all of them, and per signal. */
const OTLP_PROTOCOLS = ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'];

/**
 * The exporters post OTLP/HTTP, whatever these say; with `grpc` (the collector's port 4317, as
 * other services' SDKs are often set up) every export failed and spans and metrics were lost
 * without a word while the gateway ran. Not checked while nothing is exported: a shared
 * environment may set them for other services.
 */
function otlpProblems(e: Settings, given: Readonly<Record<string, string | undefined>>): string[] {
  if (e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined || e.OTEL_SDK_DISABLED === 'true') return [];
  return [
    ...signalPathProblems(e.OTEL_EXPORTER_OTLP_ENDPOINT),
    ...OTLP_PROTOCOLS.filter((name) => given[name]?.trim().toLowerCase() === 'grpc').map(
      (name) =>
        `${name}: grpc is not supported: spans and metrics go over OTLP/HTTP; set OTEL_EXPORTER_OTLP_ENDPOINT to the collector's OTLP/HTTP port (4318) and ${name} to http/protobuf, or unset it`,
    ),
    ...samplerProblems(given),
    ...resourceAttributeProblems(e),
  ];
}

/**
 * The endpoint is a base URL that `/v1/traces` and `/v1/metrics` are added to; given a signal's
 * own URL (a collector's `.../v1/traces`, as other tools take it), every export went to
 * `.../v1/traces/v1/traces`, which collectors answer 404, and was lost without a word.
 */
function signalPathProblems(endpoint: string): string[] {
  if (!/\/v1\/(traces|metrics|logs)\/*$/.test(new URL(endpoint).pathname)) return [];
  return [
    `OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL, without /v1/traces: spans go to <endpoint>/v1/traces and metrics to <endpoint>/v1/metrics (got ${JSON.stringify(maskUrlPassword(endpoint))})`,
  ];
}

/** The samplers OpenTelemetry's tracer provider builds from OTEL_TRACES_SAMPLER, spelled as it compares them. */
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/**
 * The tracer provider reads these itself, and puts "sample every trace" in place of a name it
 * does not know (`TraceIdRatio`) or a ratio outside 0 to 1 (`10%`), saying so only to a
 * diagnostic logger nobody installed: a gateway set to keep one trace in ten exported them all.
 */
function samplerProblems(given: Readonly<Record<string, string | undefined>>): string[] {
  const sampler = emptyAsUndefined(given.OTEL_TRACES_SAMPLER);
  if (typeof sampler !== 'string') return [];
  if (!SAMPLERS.includes(sampler)) {
    return [`OTEL_TRACES_SAMPLER: "${sampler}" is not one of ${SAMPLERS.join(', ')}; OpenTelemetry would sample every trace`];
  }
  const arg = emptyAsUndefined(given.OTEL_TRACES_SAMPLER_ARG);
  if (!sampler.endsWith('traceidratio') || typeof arg !== 'string') return [];
  const ratio = Number(arg);
  return ratio >= 0 && ratio <= 1
    ? []
    : [
        `OTEL_TRACES_SAMPLER_ARG: the share of traces ${sampler} keeps, a number from 0 to 1 (0.1: one in ten); OpenTelemetry would sample every trace (got ${JSON.stringify(arg)})`,
      ];
}

/** A Batch that sets no concurrency gets the default, and is refused when that is above the maximum. */
function batchProblems(e: Settings, byDefault: (name: string) => boolean): string[] {
  if (e.BATCH_DEFAULT_CONCURRENCY <= e.BATCH_MAX_CONCURRENCY) return [];
  const defaultNote = byDefault('BATCH_DEFAULT_CONCURRENCY') ? ' (its default)' : '';
  const maxNote = byDefault('BATCH_MAX_CONCURRENCY') ? ', its default' : '';
  return [
    `BATCH_DEFAULT_CONCURRENCY: ${e.BATCH_DEFAULT_CONCURRENCY}${defaultNote} is more than BATCH_MAX_CONCURRENCY (${e.BATCH_MAX_CONCURRENCY}${maxNote}), so a Batch without concurrency would be refused`,
  ];
}

/**
 * A pinned SIMULATOR_PORT against the gateway's own ports; checked once the providers are known,
 * since the simulator runs only without a provider key (or with SIMULATOR=on).
 */
export function simulatorPortProblems(config: Pick<Config, 'host' | 'port' | 'http' | 'metrics' | 'simulator'>): string[] {
  if (config.simulator.port === 0) return [];
  const simulator = { name: 'SIMULATOR_PORT', host: SIMULATOR_HOST, port: config.simulator.port };
  return clashes([...gatewayListeners(config), simulator], () => false);
}

function gatewayListeners(c: Pick<Config, 'host' | 'port' | 'http' | 'metrics'>): Listener[] {
  return [
    { name: 'PORT', host: c.host, port: c.port },
    ...(c.http.enabled ? [{ name: 'HTTP_PORT', host: c.http.host, port: c.http.port }] : []),
    ...(c.metrics.enabled ? [{ name: 'METRICS_PORT', host: c.metrics.host, port: c.metrics.port }] : []),
  ];
}

/** The process would collide with itself and fail "address already in use", as if another program held the port. */
function clashes(listeners: readonly Listener[], byDefault: (name: string) => boolean): string[] {
  const problems: string[] = [];
  listeners.forEach((later, i) => {
    const earlier = listeners
      .slice(0, i)
      .find((l) => l.port !== 0 && l.port === later.port && (l.host === later.host || WILDCARDS.has(l.host) || WILDCARDS.has(later.host)));
    if (!earlier) return;
    problems.push(
      `${later.name}: ${later.port}${byDefault(later.name) ? ' (its default)' : ''} is ${earlier.name} too: give each its own port`,
    );
  });
  return problems;
}
