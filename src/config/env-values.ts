import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_TIMER_MS } from '../domain/timers.js';

/** Empty or blank environment values mean unset, as in most `.env` loaders. */
export const emptyAsUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/**
 * A key or token read from the variable a config file names (providers[].api_key_env,
 * catalog.sync.huggingface.token_env), read as the settings are: trimmed, so a Secret mounted from
 * a file loses its newline, and a blank value is unset.
 */
export const secretFromEnv = (env: Readonly<Record<string, string | undefined>>, name: string): string | undefined =>
  env[name]?.trim() || undefined;

/** A number from a string; empty or unset means `fallback`. */
export const number = (schema: z.ZodNumber, fallback: number) =>
  z.preprocess((v) => emptyAsUndefined(v) ?? fallback, z.coerce.number().pipe(schema));
/** A DNS name: labels of letters, digits, `-` and `_`, dot-separated, an optional final dot. */
const HOST_NAME = /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/**
 * An address to listen on (HOST, HTTP_HOST, METRICS_HOST): an IP address or a host name. The
 * bind resolves whatever it is given, so a port, a scheme or IPv6 brackets failed only there, as
 * a name that does not resolve (`getaddrinfo ENOTFOUND 0.0.0.0:50051`) naming no setting.
 */
export const bindHost = () =>
  z
    .string()
    .trim()
    .refine(
      (value) => isIP(value) !== 0 || HOST_NAME.test(value),
      'an IP address (IPv6 without brackets) or a host name, without a scheme or port',
    );

/** An optional trimmed string setting. */
export const text = () => z.preprocess(emptyAsUndefined, z.string().trim().optional());

/**
 * Milliseconds a timer waits, `min` or more, in a setting or the config file. Node fires a timer
 * longer than MAX_TIMER_MS after 1 ms, so a longer value would act at once instead of never.
 */
export const timerMs = (min: number) =>
  z.number().int().min(min).max(MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a timer waits)`);

/** A setting of `timerMs`; empty or unset means `fallback`. */
export const milliseconds = (min: number, fallback: number) => number(timerMs(min), fallback);
