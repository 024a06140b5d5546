import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/cli/args.js';

describe('CLI durations (--timeout, --since)', () => {
  it('read milliseconds, seconds (the default unit), minutes, hours and days', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('24h', '--since')).toBe(86_400_000);
    expect(parseDuration('7d', '--since')).toBe(7 * 86_400_000);
  });

  it('name the flag a bad value came from', () => {
    expect(() => parseDuration('soon', '--since')).toThrow(/^--since: "soon" is not a duration/);
    expect(() => parseDuration('0s')).toThrow('--timeout must be at least 1ms (got "0s")');
    expect(() => parseDuration('0.0001ms', '--since')).toThrow('--since must be at least 1ms (got "0.0001ms")');
  });
});
