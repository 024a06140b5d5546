import { z } from 'zod';
import { MAX_TIMER_MS } from '../domain/timers.js';

/** Empty or blank environment values mean unset, as in most `.env` loaders. */
export const emptyAsUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** A number from a string; empty or unset means `fallback`. */
export const number = (schema: z.ZodNumber, fallback: number) =>
  z.preprocess((v) => emptyAsUndefined(v) ?? fallback, z.coerce.number().pipe(schema));
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
