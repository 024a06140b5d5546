import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

const CENSOR = '[redacted]';

/**
 * Secrets at the top of a logged object or one level down (`metadata.authorization`): pino
 * redact paths, checked on every line, so kept few (a wildcard path per depth costs about
 * 10 µs a line; the per-call line is on the hot path).
 */
export const REDACTED_PATHS: string[] = [
  ...['apiKey', 'authorization'].flatMap((field) => [field, `*.${field}`]),
  // One path less per line: `x-api-key` one level down sits in headers or metadata, which the
  // serializers below scrub.
  '["x-api-key"]',
];

/** Header and field names whose values are secrets, compared in lower case. */
const SECRET_NAMES = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'apikey', 'api_key']);
const MAX_DEPTH = 6;

/**
 * A copy of `value` with every secret-named field censored, at any depth up to MAX_DEPTH:
 * for the fields that carry headers (`err.request.headers.authorization`,
 * `headers["x-api-key"]`). Runs only on lines that have such a field.
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => scrubSecrets(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] = SECRET_NAMES.has(key.toLowerCase()) ? CENSOR : scrubSecrets(field, depth + 1);
  }
  return out;
}

/** pino serializers run only when their key is on the line, so deep scrubbing costs the hot path nothing. */
const serializers: Record<string, (value: unknown) => unknown> = {
  err: (err: unknown) => scrubSecrets(err instanceof Error ? pino.stdSerializers.err(err) : err),
  error: (err: unknown) => scrubSecrets(err instanceof Error ? pino.stdSerializers.err(err) : err),
  headers: scrubSecrets,
  metadata: scrubSecrets,
  req: scrubSecrets,
  request: scrubSecrets,
  res: scrubSecrets,
  response: scrubSecrets,
};

/**
 * JSON lines to stdout. Asynchronous writes keep logging off the hot path; the buffer is
 * flushed on exit by pino's own handlers. API keys and authorization headers never reach
 * the output: redact paths near the top, serializers deeper down.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'llm-orchestrator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: CENSOR },
      serializers,
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger };
