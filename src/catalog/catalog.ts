import type { TokenUsage } from '../domain/chat.js';
import { perMillionUsd } from '../domain/money.js';
import { CACHE_WRITE_1H_PRICE_FACTOR, CACHE_WRITE_PRICE_FACTOR } from '../domain/prompt-cache.js';
import type { ModelDefinition } from './models.js';
import { everyFieldFrom, type ModelOrigins } from './provenance.js';
import { byCodeUnit } from '../domain/order.js';

/**
 * The key a model name is looked up by: trimmed, in any case (Unicode case, as JavaScript folds
 * it). Whatever else matches model names (history in the database) compares these keys, so a name
 * the catalog resolves is found there too.
 */
export function modelNameKey(name: string): string {
  return name.trim().toLowerCase();
}

/** A catalog entry bound to the provider that serves it in this process. */
export interface CatalogModel extends ModelDefinition {
  readonly upstreamId: string;
  /** Name of the registered provider that serves it, or undefined when none is configured. */
  readonly servedBy: string | undefined;
  readonly simulated: boolean;
  /** Where each field's value came from, and when a synced value was fetched. */
  readonly origins: ModelOrigins;
}

export interface CatalogOptions {
  readonly models: readonly ModelDefinition[];
  /** Provider kind -> registered provider name, for the kinds that are configured. */
  readonly providers: ReadonlyMap<string, string>;
  /** When set, a model whose provider is not configured is served by the provider it names. */
  readonly simulatorFor?: (model: ModelDefinition) => string;
  /** Each model's field origins by id; a model without an entry is wholly built-in. */
  readonly origins?: ReadonlyMap<string, ModelOrigins>;
}

/** One immutable state of the catalog: what every call that resolved a model against it keeps using. */
export class CatalogSnapshot {
  private readonly byName = new Map<string, CatalogModel>();
  readonly models: readonly CatalogModel[];

  constructor(options: CatalogOptions) {
    const models: CatalogModel[] = [];
    for (const def of options.models) {
      const real = options.providers.get(def.provider);
      const servedBy = real ?? options.simulatorFor?.(def);
      const model: CatalogModel = Object.freeze({
        ...def,
        upstreamId: def.upstreamId ?? def.id,
        servedBy,
        simulated: real === undefined && servedBy !== undefined,
        origins: options.origins?.get(def.id) ?? everyFieldFrom({ source: 'builtin' }),
      });
      models.push(model);
      for (const name of [def.id, ...def.aliases]) {
        const key = name.toLowerCase();
        const existing = this.byName.get(key);
        if (existing && existing.id !== def.id) {
          throw new Error(`catalog: name "${name}" is used by both ${existing.id} and ${def.id}`);
        }
        this.byName.set(key, model);
      }
    }
    this.models = Object.freeze(models.sort((a, b) => byCodeUnit(a.id, b.id)));
    for (const model of this.models) {
      for (const next of model.fallbacks) {
        if (!this.byName.has(next.toLowerCase())) {
          throw new Error(`catalog: ${model.id} falls back to unknown model "${next}"`);
        }
      }
    }
  }

  find(name: string): CatalogModel | undefined {
    return this.byName.get(modelNameKey(name));
  }
}

/**
 * Looks models up by id or alias, case-insensitively. The catalog can be replaced while the
 * gateway serves (runtime models, synced prices): each lookup reads the current snapshot, and a
 * replacement is one assignment, so a call sees either the old catalog or the new one, never a mix;
 * a call keeps the (frozen) models it resolved, prices included, until it ends.
 */
export class Catalog {
  private snapshot: CatalogSnapshot;
  private removalListeners: readonly ((removed: readonly CatalogModel[]) => void)[] = [];

  constructor(options: CatalogOptions) {
    this.snapshot = new CatalogSnapshot(options);
  }

  /**
   * Told after each replacement which model endpoints it ended: the previous models whose id is
   * gone, or now served by another provider or upstream model (a breaker opened by the old one says
   * nothing about the new one). What is kept per model (breakers, statistics, metric
   * series) is dropped there, or a gateway whose models come and go would keep every one forever.
   */
  onRemoved(listener: (removed: readonly CatalogModel[]) => void): void {
    this.removalListeners = [...this.removalListeners, listener];
  }

  get models(): readonly CatalogModel[] {
    return this.snapshot.models;
  }

  /** The snapshot in use now. */
  get current(): CatalogSnapshot {
    return this.snapshot;
  }

  /** Builds the next snapshot and swaps it in; a build that throws leaves the current one in place. */
  replace(options: CatalogOptions): CatalogSnapshot {
    const previous = this.snapshot;
    const next = new CatalogSnapshot(options);
    this.snapshot = next;
    const served = new Set(next.models.map(endpointKey));
    const removed = previous.models.filter((m) => !served.has(endpointKey(m)));
    if (removed.length > 0) for (const listener of this.removalListeners) listener(removed);
    return next;
  }

  find(name: string): CatalogModel | undefined {
    return this.snapshot.find(name);
  }

  /** The model followed by its configured fallback chain. */
  chainFrom(model: CatalogModel): CatalogModel[] {
    const snapshot = this.snapshot;
    const chain = [model];
    for (const name of model.fallbacks) {
      const next = snapshot.find(name);
      if (next && !chain.includes(next)) chain.push(next);
    }
    return chain;
  }
}

function endpointKey(model: CatalogModel): string {
  return `${model.servedBy ?? ''}\u0000${model.id}\u0000${model.upstreamId}`;
}

/** US dollars for the given usage at the model's catalog prices. */
export function costOf(model: ModelDefinition, usage: TokenUsage): number {
  const cached = Math.min(usage.cachedTokens, usage.promptTokens);
  const written = Math.min(usage.cacheWriteTokens ?? 0, usage.promptTokens - cached);
  const writtenForHour = Math.min(usage.cacheWrite1hTokens ?? 0, written);
  const uncached = usage.promptTokens - cached - written;
  const writePrice = model.cacheWritePricePerMillion ?? model.inputPricePerMillion * CACHE_WRITE_PRICE_FACTOR;
  const dollars =
    uncached * model.inputPricePerMillion +
    (written - writtenForHour) * writePrice +
    writtenForHour * model.inputPricePerMillion * CACHE_WRITE_1H_PRICE_FACTOR +
    cached * model.cachedInputPricePerMillion +
    usage.completionTokens * model.outputPricePerMillion;
  // Prices are per million tokens; rounded to 1e-10 USD so float noise does not show in answers.
  return perMillionUsd(dollars);
}
