import { z } from 'zod';

/** Empty or blank environment values mean unset, as in most `.env` loaders. */
export const emptyAsUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** A number from a string; empty or unset means `fallback`. */
export const number = (schema: z.ZodNumber, fallback: number) =>
  z.preprocess((v) => emptyAsUndefined(v) ?? fallback, z.coerce.number().pipe(schema));
/** An optional trimmed string setting. */
export const text = () => z.preprocess(emptyAsUndefined, z.string().trim().optional());
