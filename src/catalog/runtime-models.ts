import { modelNameTaken } from '../domain/catalog-errors.js';
import { invalidArgument, type FieldViolation } from '../domain/errors.js';
import type { RuntimeModel } from './layers.js';
import { type ModelDefinition, outputPastWindow } from './models.js';

/** What CreateModel and UpdateModel carry: a runtime model without its timestamps. */
export type RuntimeModelInput = Omit<RuntimeModel, 'createdAt' | 'updatedAt'>;

export interface RuntimeModelRules {
  /** Provider names a runtime model may name (configured providers, the built-in "openai"). */
  readonly providers: ReadonlySet<string>;
  /** Built-in and config-file models: their ids and aliases are taken. */
  readonly fixed: readonly ModelDefinition[];
  /** The embedding models, listed under their names next to the chat models: taken too. */
  readonly embedding?: readonly ModelDefinition[];
  /** The other runtime models (the one being updated left out). */
  readonly runtime: readonly RuntimeModel[];
  /** Resolves a fallback name against the catalog in use. */
  readonly resolves: (name: string) => boolean;
  /** A model only a sync brought (OpenRouter-only), which a later sync may take away again. */
  readonly synced?: (name: string) => boolean;
}

const ID = /^[a-z0-9][a-z0-9._:/-]*$/i;

/** A problem of a runtime model; `taken`: a name another model has, the one kind that is not malformed input. */
export interface RuntimeModelViolation extends FieldViolation {
  readonly taken?: string;
}

/** Every problem of a runtime model, each under its request field path (`model.input_price_per_million`). */
export function runtimeModelViolations(model: RuntimeModelInput, rules: RuntimeModelRules, prefix = 'model'): RuntimeModelViolation[] {
  const out: RuntimeModelViolation[] = [];
  const bad = (field: string, description: string): void => {
    out.push({ field: `${prefix}.${field}`, description });
  };
  const clash = (field: string, name: string, owner: string): void => {
    out.push({ field: `${prefix}.${field}`, description: `"${name}" is already the name of the ${owner}`, taken: name });
  };
  if (model.id.length === 0) bad('id', 'required');
  else if (model.id.length > 128 || !ID.test(model.id))
    bad('id', 'up to 128 letters, digits, and . _ : / - (starting with a letter or digit)');
  if (model.provider.length === 0) bad('provider', 'required');
  else if (!rules.providers.has(model.provider))
    bad('provider', `unknown provider "${model.provider}" (configured: ${[...rules.providers].sort().join(', ') || 'none'})`);
  const nonNegative: [string, number | undefined][] = [
    ['input_price_per_million', model.inputPricePerMillion],
    ['output_price_per_million', model.outputPricePerMillion],
    ['cached_input_price_per_million', model.cachedInputPricePerMillion],
    ['cache_write_price_per_million', model.cacheWritePricePerMillion],
  ];
  for (const [field, value] of nonNegative) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) bad(field, 'must be a finite number of US dollars, 0 or more');
  }
  const positive: [string, number | undefined][] = [
    ['context_window', model.contextWindow],
    ['max_output_tokens', model.maxOutputTokens],
  ];
  for (const [field, value] of positive) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) bad(field, 'must be a whole number of tokens above 0');
  }
  const pastWindow = outputPastWindow(model);
  if (pastWindow) bad('max_output_tokens', pastWindow);
  if (model.quality !== undefined && !(Number.isFinite(model.quality) && model.quality >= 0 && model.quality <= 1))
    bad('quality', 'must be between 0 and 1');
  if (model.upstreamId !== undefined && model.upstreamId.trim() === '')
    bad('upstream_id', 'must not be blank (leave it out to use the id)');

  const taken = new Map<string, string>();
  for (const def of rules.fixed)
    for (const n of [def.id, ...def.aliases]) taken.set(n.toLowerCase(), `built-in or config-file model "${def.id}"`);
  const embeddingOf = new Map<string, string>();
  for (const def of rules.embedding ?? [])
    for (const n of [def.id, ...def.aliases]) {
      taken.set(n.toLowerCase(), `embedding model "${def.id}"`);
      embeddingOf.set(n.toLowerCase(), def.id);
    }
  for (const m of rules.runtime) for (const n of [m.id, ...m.aliases]) taken.set(n.toLowerCase(), `runtime model "${m.id}"`);
  const owner = taken.get(model.id.toLowerCase());
  if (model.id.length > 0 && owner) clash('id', model.id, owner);
  const own = new Set<string>([model.id.toLowerCase()]);
  model.aliases.forEach((alias, i) => {
    const key = alias.trim().toLowerCase();
    const user = taken.get(key);
    if (key === '') bad(`aliases[${i}]`, 'must not be blank');
    else if (user) clash(`aliases[${i}]`, alias, user);
    else if (own.has(key)) bad(`aliases[${i}]`, `"${alias}" is given twice`);
    else own.add(key);
  });
  model.fallbacks.forEach((name, i) => {
    if (own.has(name.trim().toLowerCase())) bad(`fallbacks[${i}]`, 'a model cannot fall back to itself');
    else if (!rules.resolves(name)) {
      // ListModels lists the embedding models too: there the name would look like a fine fallback.
      const embedding = embeddingOf.get(name.trim().toLowerCase());
      bad(
        `fallbacks[${i}]`,
        embedding
          ? `${embedding} is an embedding model, not a chat model: a model falls back only to chat models`
          : `unknown model "${name}" (ListModels shows the catalog)`,
      );
    } else if (rules.synced?.(name))
      bad(
        `fallbacks[${i}]`,
        `"${name}" is in the catalog only while a sync lists it: fall back to a built-in, config-file or runtime model`,
      );
  });
  return out;
}

/**
 * Refuses the model with every problem it has, `known` (found before it was read) among them:
 * INVALID_ARGUMENT while any is malformed input, else ALREADY_EXISTS for the names other models
 * have, as a request is checked before the state it meets.
 */
export function checkRuntimeModel(model: RuntimeModelInput, known: readonly FieldViolation[], rules: RuntimeModelRules): void {
  const found = runtimeModelViolations(model, rules);
  if (found.length + known.length === 0) return;
  const taken = found.flatMap(({ field, description, taken: name }) => (name === undefined ? [] : [{ field, description, name }]));
  const [first, ...rest] = taken;
  if (first && known.length === 0 && taken.length === found.length) throw modelNameTaken([first, ...rest]);
  throw invalidArgument([...found, ...known].map(({ field, description }) => ({ field, description })));
}
