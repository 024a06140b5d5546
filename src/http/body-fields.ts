import { modelNameTooLong } from '../domain/model-names.js';
import { CHECKED_PAST_LIMIT, invalidArgument, type FieldViolation } from '../domain/errors.js';

/** Request body checks shared by the OpenAI-compatible routes: each problem becomes a field violation. */
type Json = Record<string, unknown>;

export class Violations {
  private readonly list: FieldViolation[] = [];
  add(field: string, description: string): void {
    this.list.push({ field, description });
  }
  check(): void {
    if (this.list.length > 0) throw invalidArgument(this.list);
  }
}

/**
 * A refused value as an error message shows it: a scalar as JSON, an array or object by its kind
 * only. Echoed whole, one could be megabytes long, or nested too deep for JSON.stringify, which
 * then threw and turned a 400 into a 500.
 */
export function shown(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
}

/**
 * Names each field of an object in the body that `allowed` lacks, at `at.field`; a null one counts
 * as absent, as everywhere in the body. Dropped in silence, a misspelt or unsupported field would
 * change the answer without a word (a schema left out, a cache breakpoint ignored).
 */
export function refuseOtherFields(v: Violations, value: Json, allowed: ReadonlySet<string>, at: string, description: string): void {
  for (const field in value) {
    const set = value[field];
    if (!allowed.has(field) && set !== null && set !== undefined) v.add(`${at}.${field}`, description);
  }
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name];
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined === undefined || joined.trim() === '' ? undefined : headerText(joined.trim());
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Node reads each byte of a header value as one Latin-1 character. curl, and most clients, send
 * text beyond ASCII as UTF-8: bytes that are valid UTF-8 are read as such, so such a value is
 * found (a model alias) and quoted as it was written; other bytes stay Latin-1.
 */
function headerText(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value)) return value;
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

export function numberIn(v: Violations, field: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    v.add(field, `must be a number between ${min} and ${max} (got ${shown(value)})`);
    return undefined;
  }
  return value;
}

/** The largest value the gRPC fields these mirror (int32) hold. */
const INT32_MAX = 2 ** 31 - 1;

export function integerIn(v: Violations, field: string, value: unknown, min: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    v.add(field, `must be a whole number, at least ${min} (got ${shown(value)})`);
    return undefined;
  }
  // Said apart: "at least 1 (got 3000000000)" told the caller nothing about what was wrong.
  if (value > INT32_MAX) {
    v.add(field, `must be at most ${INT32_MAX} (got ${shown(value)})`);
    return undefined;
  }
  return value;
}

export function booleanField(v: Violations, field: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    v.add(field, `must be true or false (got ${shown(value)})`);
    return undefined;
  }
  return value;
}

export function stringField(v: Violations, field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    v.add(field, 'must be a string');
    return undefined;
  }
  return value;
}

export function enumField<T extends string>(v: Violations, field: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === null) return undefined;
  const normal = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (typeof normal === 'string' && (allowed as readonly string[]).includes(normal)) return normal as T;
  v.add(field, `must be one of ${allowed.join(', ')} (got ${shown(value)})`);
  return undefined;
}

/**
 * A list of model names, each refused where it stands (`models[1]`), as gRPC names it: a name
 * past MAX_MODEL_NAME_CHARS was looked up and answered as an unknown model (404), not a bad request.
 */
export function stringList(v: Violations, field: string, value: unknown, max: number): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    v.add(field, 'must be an array of model ids or aliases');
    return [];
  }
  if (value.length > max) v.add(field, `at most ${max} models per call (got ${value.length})`);
  // A list over the count has its first entries checked, not all.
  const checked = value.length > max ? value.slice(0, CHECKED_PAST_LIMIT) : value;
  let valid = true;
  checked.forEach((s: unknown, i) => {
    const problem = modelNameProblem(s);
    if (problem === undefined) return;
    v.add(`${field}[${i}]`, problem);
    valid = false;
  });
  return valid ? value.map((s: string) => s.trim()) : [];
}

/** Why a model name given in a request cannot be one; undefined when it can. */
export function modelNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be a model id or alias (got ${shown(name)})`;
  const trimmed = name.trim();
  if (trimmed === '') return 'must not be empty';
  return modelNameTooLong(trimmed);
}
