import { z } from 'zod';
import { emptyAsUndefined } from './env-values.js';

// OpenTelemetry export (src/telemetry/otel.ts). Its SDK is built piece by piece there, not through
// the Node SDK that reads these variables itself, so their standard meanings are applied here.
export const OTEL_ENV = {
  /** OTLP/HTTP collector base URL; spans go to <url>/v1/traces. Unset: no spans (traceparent still propagates). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  /** Unset: the `service.name` of OTEL_RESOURCE_ATTRIBUTES, else llm-orchestrator (tracingConfig). */
  OTEL_SERVICE_NAME: z.preprocess(emptyAsUndefined, z.string().trim().optional()),
  /** `key=value,...`, percent-encoded: attributes of the resource spans and metrics are exported under. */
  OTEL_RESOURCE_ATTRIBUTES: z.preprocess(emptyAsUndefined, z.string().optional()),
  /** true: nothing is exported, whatever the endpoint says (the standard switch for every SDK). */
  OTEL_SDK_DISABLED: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['true', 'false']).default('false'),
  ),
};

export interface TracingConfig {
  /** Undefined: no spans nor OTLP metrics (unset, or OTEL_SDK_DISABLED=true). */
  readonly otlpEndpoint: string | undefined;
  readonly serviceName: string;
  readonly environment: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES; service.name and deployment.environment.name above win over theirs. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

interface OtelSettings {
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly OTEL_SERVICE_NAME?: string | undefined;
  readonly OTEL_RESOURCE_ATTRIBUTES?: string | undefined;
  readonly OTEL_SDK_DISABLED: string;
  readonly ENVIRONMENT?: string | undefined;
}

export function tracingConfig(e: OtelSettings): TracingConfig {
  // A malformed list is refused at start-up when spans are exported (resourceAttributeProblems); unused, it is not read.
  const resourceAttributes = parseResourceAttributes(e.OTEL_RESOURCE_ATTRIBUTES).attributes;
  return {
    otlpEndpoint: e.OTEL_SDK_DISABLED === 'true' ? undefined : e.OTEL_EXPORTER_OTLP_ENDPOINT,
    // The standard order: OTEL_SERVICE_NAME, then the resource attributes' service.name.
    serviceName: e.OTEL_SERVICE_NAME ?? resourceAttributes['service.name'] ?? 'llm-orchestrator',
    environment: e.ENVIRONMENT,
    resourceAttributes,
  };
}

/** OTEL_RESOURCE_ATTRIBUTES as OpenTelemetry reads it; the SDK would drop a malformed list without a word. */
export function resourceAttributeProblems(e: OtelSettings): string[] {
  const { problem } = parseResourceAttributes(e.OTEL_RESOURCE_ATTRIBUTES);
  return problem ? [`OTEL_RESOURCE_ATTRIBUTES: ${problem}`] : [];
}

/** `key=value` pairs separated by commas; `,` and `=` inside a key or value are percent-encoded (`%2C`, `%3D`). */
function parseResourceAttributes(raw: string | undefined): { attributes: Record<string, string>; problem?: string } {
  const attributes: Record<string, string> = {};
  for (const entry of (raw ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const parts = entry.split('=');
    const key = parts[0]?.trim() ?? '';
    if (parts.length !== 2 || key === '') {
      return {
        attributes: {},
        problem: `each entry is key=value, with , and = in them written %2C and %3D (got ${JSON.stringify(entry.trim())})`,
      };
    }
    try {
      attributes[decodeURIComponent(key)] = decodeURIComponent(parts[1]?.trim() ?? '');
    } catch {
      return { attributes: {}, problem: `an entry is not percent-encoded correctly (got ${JSON.stringify(entry.trim())})` };
    }
  }
  return { attributes };
}
