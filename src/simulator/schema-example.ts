/**
 * A small deterministic generator of JSON that follows a JSON Schema: what the simulator answers
 * for a JSON Schema response format and writes as a tool call's arguments. It covers the
 * schemas tools and structured output use (objects, arrays, strings with enum/const/format and
 * length bounds, numbers and integers with bounds, booleans, null, anyOf/oneOf/allOf, local
 * $ref to $defs/definitions); anything else gets null.
 */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Schema = { readonly [key: string]: unknown };

const MAX_DEPTH = 8;

/**
 * About how many characters an example holds at most. A schema can ask for more than any answer
 * (minItems 1e9, nested arrays of a thousand items each): writing it whole would hold the event
 * loop the in-process simulator shares with the gateway for seconds, or run it out of memory. A
 * model's output limit cuts an answer far shorter (128K tokens is about 512K characters), and
 * the answer is cut at max_tokens after this; past the budget, arrays end, strings stop and
 * what is left is null.
 */
const MAX_EXAMPLE_CHARS = 1_000_000;

/**
 * Schemas visited at most, about a tenth of a second of work: allOf of many $refs back to its own
 * definition writes little but branches at every level.
 */
const MAX_VISITS = 100_000;

/** What one example walk shares: the schema $refs resolve against, the characters left to write and the visits left. */
interface Walk {
  readonly root: unknown;
  left: number;
  visits: number;
}

export function exampleFor(schema: unknown): Json {
  return example(schema, { root: schema, left: MAX_EXAMPLE_CHARS, visits: MAX_VISITS }, 'value', 0);
}

function example(schema: unknown, walk: Walk, name: string, depth: number): Json {
  if (!isSchema(schema) || depth > MAX_DEPTH || walk.left <= 0 || walk.visits <= 0) return null;
  walk.visits--;
  if ('const' in schema) return schema.const as Json;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as Json;
  if (typeof schema.$ref === 'string') return example(resolveRef(schema.$ref, walk.root), walk, name, depth + 1);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      const first = options.find((o) => !(isSchema(o) && o.type === 'null')) ?? options[0];
      return example(first, walk, name, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf)) {
    const merged: Record<string, Json> = {};
    for (const part of schema.allOf) {
      const value = example(part, walk, name, depth + 1);
      if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(merged, value);
    }
    return merged;
  }
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== 'null') ?? 'null') : schema.type;
  switch (type ?? (isSchema(schema.properties) ? 'object' : undefined)) {
    case 'object': {
      const out: Record<string, Json> = {};
      const properties = isSchema(schema.properties) ? schema.properties : {};
      for (const [key, sub] of Object.entries(properties)) {
        walk.left -= key.length;
        out[key] = example(sub, walk, key, depth + 1);
      }
      return out;
    }
    case 'array': {
      const count = Math.max(typeof schema.minItems === 'number' ? schema.minItems : 1, 1);
      const capped = typeof schema.maxItems === 'number' ? Math.min(count, schema.maxItems) : count;
      const items: Json[] = [];
      for (let i = 0; i < capped && walk.left > 0; i++) {
        walk.left--;
        items.push(example(schema.items, walk, `${name}_${i + 1}`, depth + 1));
      }
      return items;
    }
    case 'string': {
      const text = stringFor(schema, name, Math.max(walk.left, 0));
      walk.left -= text.length;
      return text;
    }
    case 'integer':
    case 'number':
      return numberFor(schema, type === 'integer');
    case 'boolean':
      return true;
    default:
      return null;
  }
}

function stringFor(schema: Schema, name: string, budget: number): string {
  switch (schema.format) {
    case 'date-time':
      return '2025-01-01T00:00:00Z';
    case 'date':
      return '2025-01-01';
    case 'email':
      return 'someone@example.com';
    case 'uri':
      return 'https://example.com/';
    case 'uuid':
      return '00000000-0000-4000-8000-000000000000';
  }
  // JSON Schema's lengths count code points: an emoji in a property's name is one, and is never cut in two.
  const chars = [...`example ${name}`];
  const min = Math.min(typeof schema.minLength === 'number' ? schema.minLength : 0, budget);
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  while (chars.length < min) chars.push('x');
  return chars.slice(0, max).join('');
}

function numberFor(schema: Schema, integer: boolean): number {
  const min =
    typeof schema.minimum === 'number'
      ? schema.minimum
      : typeof schema.exclusiveMinimum === 'number'
        ? schema.exclusiveMinimum + 1
        : undefined;
  const max =
    typeof schema.maximum === 'number'
      ? schema.maximum
      : typeof schema.exclusiveMaximum === 'number'
        ? schema.exclusiveMaximum - 1
        : undefined;
  let value = min ?? (max !== undefined ? Math.min(max, 1) : 1);
  if (max !== undefined && value > max) value = max;
  return integer ? Math.ceil(value) : value;
}

function resolveRef(ref: string, root: unknown): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const key of ref.slice(2).split('/')) node = isSchema(node) ? node[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return node;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
