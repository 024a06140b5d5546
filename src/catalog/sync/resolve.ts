import { distance } from 'fastest-levenshtein';
import { type NameKey, nameKey } from './names.js';
import type { MatchRule, NameMatch } from './types.js';
import { byCodeUnit } from '../../domain/order.js';

/**
 * Resolves the names a source uses to catalog ids, in this order (the first rule that matches wins):
 *  1. override: the config file maps the exact external name to an id, or to null (ignored);
 *  2. exact: the name is a catalog id (case-insensitive);
 *  3. alias: the name is a catalog alias or a model's upstream id;
 *  4. normalised: equal keys after dropping vendor paths, case, punctuation and format words
 *     (names.ts), first with the name's date (a dated snapshot the catalog has as a model of its
 *     own), then without it (where an undated name's key beats a dated one's), then again without a
 *     trailing instruct/chat word;
 *  5. fuzzy: the closest key by Levenshtein similarity, at or above the threshold, with the same
 *     numbers and tier words (so "gpt-4o" never takes "gpt-4o-mini"), and clearly closer than the
 *     runner-up.
 * One catalog id takes one name per run: the best rule wins, then an undated name over a dated
 * one, then the newest-looking name; the others are reported as superseded.
 */
export interface KnownModel {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly upstreamId?: string;
}

export interface ResolveOptions {
  readonly known: readonly KnownModel[];
  /** External name (exact, case-insensitive) -> catalog id, or null to ignore the name. */
  readonly overrides?: Readonly<Record<string, string | null>>;
  /** Least similarity (0..1) a fuzzy match needs. */
  readonly fuzzyThreshold?: number;
}

export interface Resolution {
  readonly matched: NameMatch[];
  readonly unmatched: string[];
  readonly ignored: string[];
  readonly superseded: NameMatch[];
}

export const DEFAULT_FUZZY_THRESHOLD = 0.85;
/** A fuzzy winner must beat the runner-up (a different id) by this much, or the name is ambiguous. */
const FUZZY_MARGIN = 0.05;
const RANK: Record<MatchRule, number> = { override: 0, exact: 1, alias: 2, normalised: 3, fuzzy: 4 };

interface Candidate {
  readonly match: NameMatch;
  readonly dated: boolean;
}

export function resolveNames(names: readonly string[], options: ResolveOptions): Resolution {
  const index = buildIndex(options.known);
  const overrides = new Map(Object.entries(options.overrides ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const threshold = options.fuzzyThreshold ?? DEFAULT_FUZZY_THRESHOLD;
  const unmatched: string[] = [];
  const ignored: string[] = [];
  const byId = new Map<string, Candidate[]>();
  for (const name of new Set(names)) {
    const candidate = resolveOne(name, index, overrides, threshold);
    if (candidate === null) ignored.push(name);
    else if (candidate === undefined) unmatched.push(name);
    else byId.set(candidate.match.catalogId, [...(byId.get(candidate.match.catalogId) ?? []), candidate]);
  }
  const matched: NameMatch[] = [];
  const superseded: NameMatch[] = [];
  for (const candidates of byId.values()) {
    const [best, ...rest] = candidates.sort(better);
    if (best) matched.push(best.match);
    superseded.push(...rest.map((c) => c.match));
  }
  return { matched, unmatched, ignored, superseded };
}

interface Index {
  readonly ids: Map<string, string>;
  readonly aliases: Map<string, string>;
  /** snapshot key (strict key with its dates) -> id; null when two ids share it. */
  readonly snapshots: Map<string, string | null>;
  /** strict or loose key -> id; null when two ids share the key (then it matches nothing). */
  readonly keys: Map<string, string | null>;
  readonly entries: { readonly id: string; readonly key: NameKey }[];
}

type Entry = { readonly id: string; readonly key: NameKey };

function buildIndex(known: readonly KnownModel[]): Index {
  const ids = new Map<string, string>();
  const aliases = new Map<string, string>();
  const snapshots = new Map<string, string | null>();
  const keys = new Map<string, string | null>();
  const undated: Entry[] = [];
  const dated: Entry[] = [];
  for (const m of known) {
    ids.set(m.id.toLowerCase(), m.id);
    for (const name of [...m.aliases, ...(m.upstreamId ? [m.upstreamId] : [])]) aliases.set(name.toLowerCase(), m.id);
  }
  for (const m of known) {
    for (const name of [m.id, ...m.aliases, ...(m.upstreamId ? [m.upstreamId] : [])]) {
      const key = nameKey(name);
      if (!key.strict) continue;
      (key.snapshot ? dated : undated).push({ id: m.id, key });
    }
  }
  const pairs = (entries: readonly Entry[], keyOf: (key: NameKey) => string) => entries.map((e) => [keyOf(e.key), e.id] as const);
  claim(
    snapshots,
    pairs(dated, (k) => k.snapshot ?? ''),
  );
  // A dated name takes the key without its date only where no undated name has it: a snapshot
  // that became a model of its own ("openai/gpt-4o-2024-05-13") must not make "gpt-4o" ambiguous.
  claim(
    keys,
    pairs(undated, (k) => k.strict),
  );
  claim(
    keys,
    pairs(dated, (k) => k.strict),
  );
  // Loose keys only where no strict key already claims them ("deepseek-chat" the model vs "deepseek").
  claim(
    keys,
    pairs(undated, (k) => `~${k.loose}`),
  );
  claim(
    keys,
    pairs(dated, (k) => `~${k.loose}`),
  );
  return { ids, aliases, snapshots, keys, entries: [...undated, ...dated] };
}

/** Adds the keys `map` does not have yet: to their id, or to null when the pairs give two ids. */
function claim(map: Map<string, string | null>, pairs: readonly (readonly [string, string])[]): void {
  const fresh = new Map<string, string | null>();
  for (const [key, id] of pairs) {
    if (map.has(key)) continue;
    const seen = fresh.get(key);
    fresh.set(key, seen === undefined || seen === id ? id : null);
  }
  for (const [key, id] of fresh) map.set(key, id);
}

function resolveOne(name: string, index: Index, overrides: Map<string, string | null>, threshold: number): Candidate | null | undefined {
  const lower = name.toLowerCase();
  const key = nameKey(name);
  const make = (catalogId: string, rule: MatchRule, confidence = 1, dated = key.dated): Candidate => ({
    match: { externalId: name, catalogId, rule, confidence },
    dated,
  });
  if (overrides.has(lower)) {
    const to = overrides.get(lower);
    return to === null || to === undefined ? null : make(index.ids.get(to.toLowerCase()) ?? to, 'override', 1, false);
  }
  const exact = index.ids.get(lower);
  if (exact) return make(exact, 'exact', 1, false);
  const alias = index.aliases.get(lower);
  if (alias) return make(alias, 'alias', 1, false);
  // A variant (":free") is its own offer at its own price: only an exact name or an override takes it.
  if (key.variant || !key.strict) return undefined;
  // The dated snapshot itself first, when the catalog has it; the date is dropped only after.
  const snapshot = key.snapshot === undefined ? undefined : index.snapshots.get(key.snapshot);
  if (snapshot) return make(snapshot, 'normalised');
  const strict = index.keys.get(key.strict);
  if (strict) return make(strict, 'normalised');
  if (strict === undefined) {
    const loose = index.keys.get(`~${key.loose}`);
    if (loose) return make(loose, 'normalised');
  }
  return fuzzy(key, index, threshold, make);
}

function fuzzy(
  key: NameKey,
  index: Index,
  threshold: number,
  make: (id: string, rule: MatchRule, confidence: number) => Candidate,
): Candidate | undefined {
  let best: { id: string; score: number } | undefined;
  let second = 0;
  for (const entry of index.entries) {
    if (entry.key.guard !== key.guard) continue;
    const score = similarity(key.loose, entry.key.loose);
    if (!best || score > best.score) {
      if (best && best.id !== entry.id) second = Math.max(second, best.score);
      best = { id: entry.id, score };
    } else if (entry.id !== best.id) second = Math.max(second, score);
  }
  if (!best || best.score < threshold || best.score - second < FUZZY_MARGIN) return undefined;
  return make(best.id, 'fuzzy', Math.round(best.score * 1000) / 1000);
}

/** 1 - edit distance / longer length. */
export function similarity(a: string, b: string): number {
  const longer = Math.max(a.length, b.length);
  return longer === 0 ? 1 : 1 - distance(a, b) / longer;
}

/**
 * Best rule first, then an undated name, then the later-sorting name (newer snapshot dates sort
 * last) by code unit: in the process's locale, replicas under different LANG settings could take
 * a model's synced data from different names.
 */
function better(a: Candidate, b: Candidate): number {
  return (
    RANK[a.match.rule] - RANK[b.match.rule] ||
    Number(a.dated) - Number(b.dated) ||
    b.match.confidence - a.match.confidence ||
    byCodeUnit(b.match.externalId, a.match.externalId)
  );
}
