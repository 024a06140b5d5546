import type { z } from 'zod';
import { envSchema } from './config.js';

/** The environment variables the settings schema reads, in schema order. */
export type EnvName = keyof typeof envSchema.shape;

export const ENV_NAMES = Object.keys(envSchema.shape) as EnvName[];

/**
 * The values an enum-like setting accepts, found through the preprocess/default wrappers;
 * undefined for settings that are not enums.
 */
export function allowedValues(name: EnvName): readonly string[] | undefined {
  let schema: z.ZodType | undefined = envSchema.shape[name];
  for (let depth = 0; schema && depth < 8; depth++) {
    const def = schema.def as { type: string; out?: z.ZodType; innerType?: z.ZodType; entries?: Record<string, string> };
    if (def.type === 'enum' && def.entries) return Object.values(def.entries);
    schema = def.out ?? def.innerType;
  }
  return undefined;
}

/** What the setting is when unset: its parsed default, or undefined. */
export function defaultOf(name: EnvName): unknown {
  const parsed = envSchema.shape[name].safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}
