import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

const CENSOR = '[redacted]';

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

/**
 * A line's secret-named fields at the top and one level down (`metadata.authorization`,
 * `call.apiKey`), censored in a copy: the logged object is the caller's. Fields with a
 * serializer below are left to it, which scrubs them to any depth. pino's `redact` option did
 * this before: its paths are parsed again for every line and every child logger, about 4 µs a
 * line, where this costs a look at each key (docs/operations.md).
 */
export function censorLine(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in line) {
    const value = line[key];
    let censored = value;
    if (SECRET_NAMES.has(key.toLowerCase())) censored = CENSOR;
    else if (typeof value === 'object' && value !== null && !Object.hasOwn(serializers, key)) {
      let inner: Record<string, unknown> | undefined;
      for (const name in value) {
        if (!SECRET_NAMES.has(name.toLowerCase())) continue;
        inner ??= { ...(value as Record<string, unknown>) };
        inner[name] = CENSOR;
      }
      if (inner) censored = inner;
    }
    if (censored === value) continue;
    out ??= { ...line };
    out[key] = censored;
  }
  return out ?? line;
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
 * the output: censorLine near the top, serializers deeper down. (Child loggers' bindings are
 * the gateway's own: request id, key name, environment, worker.)
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'llm-orchestrator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: censorLine },
      serializers,
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger };
