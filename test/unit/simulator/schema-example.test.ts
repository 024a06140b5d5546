import { describe, expect, it } from 'vitest';
import { exampleFor } from '../../../src/simulator/schema-example.js';

describe('exampleFor', () => {
  it('fills every property by its type and bounds, deterministically', () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 20 },
        code: { type: 'string', maxLength: 3 },
        count: { type: 'integer', minimum: 5, maximum: 9 },
        ratio: { type: 'number', exclusiveMaximum: 0.5 },
        tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, minItems: 3 },
        when: { type: 'string', format: 'date-time' },
        maybe: { type: ['null', 'boolean'] },
        fixed: { const: 42 },
      },
    };
    const value = exampleFor(schema) as Record<string, unknown>;
    expect((value.name as string).length).toBeGreaterThanOrEqual(20);
    expect((value.code as string).length).toBeLessThanOrEqual(3);
    expect(value.count).toBe(5);
    expect(value.ratio as number).toBeLessThan(0.5);
    expect(value.tags).toEqual(['a', 'a', 'a']);
    expect(Number.isNaN(Date.parse(value.when as string))).toBe(false);
    expect(value.maybe).toBe(true);
    expect(value.fixed).toBe(42);
    expect(exampleFor(schema)).toEqual(value);
  });

  it('bounds a string by characters, as JSON Schema counts them, never cutting one in two', () => {
    const schema = { type: 'object', properties: { '😀😀': { type: 'string', maxLength: 10 }, 天: { type: 'string', minLength: 12 } } };
    const value = exampleFor(schema) as Record<string, string>;
    // 'example 😀😀': 10 code points, 12 UTF-16 units.
    expect(value['😀😀']).toBe('example 😀😀');
    expect(value['天']).toBe('example 天xxx');
  });

  it('follows local $ref, anyOf and allOf', () => {
    const schema = {
      $defs: { point: { type: 'object', properties: { x: { type: 'number' } } } },
      type: 'object',
      properties: {
        at: { $ref: '#/$defs/point' },
        either: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 3 }] },
        both: {
          allOf: [
            { type: 'object', properties: { a: { type: 'boolean' } } },
            { type: 'object', properties: { b: { type: 'string' } } },
          ],
        },
      },
    };
    expect(exampleFor(schema)).toEqual({ at: { x: 1 }, either: 3, both: { a: true, b: 'example b' } });
  });

  it('writes at most about a million characters, however many items and characters the schema asks for', () => {
    const started = performance.now();
    const rows = { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'string', minLength: 50 } } };
    const value = exampleFor({ type: 'object', properties: { rows, note: { type: 'string', minLength: 1e9 } } });
    expect(JSON.stringify(value).length).toBeLessThan(1_200_000);
    const refs = Array.from({ length: 200 }, () => ({ $ref: '#/$defs/x' }));
    expect(exampleFor({ type: 'object', properties: { a: { $ref: '#/$defs/x' } }, $defs: { x: { allOf: refs } } })).toEqual({ a: {} });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
