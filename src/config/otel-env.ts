import { z } from 'zod';
import { emptyAsUndefined } from './env-values.js';

// OpenTelemetry export (src/telemetry/otel.ts). Its SDK is built piece by piece there, not through
// the Node SDK that reads these variables itself, so their standard meanings are applied here.
export const OTEL_ENV = {
  /** OTLP/HTTP collector base URL; spans go to <url>/v1/traces. Unset: no spans (traceparent still propagates). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  OTEL_SERVICE_NAME: z.preprocess(emptyAsUndefined, z.string().trim().default('llm-orchestrator')),
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
}

export function tracingConfig(e: {
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly OTEL_SERVICE_NAME: string;
  readonly OTEL_SDK_DISABLED: string;
  readonly ENVIRONMENT?: string | undefined;
}): TracingConfig {
  return {
    otlpEndpoint: e.OTEL_SDK_DISABLED === 'true' ? undefined : e.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: e.OTEL_SERVICE_NAME,
    environment: e.ENVIRONMENT,
  };
}
