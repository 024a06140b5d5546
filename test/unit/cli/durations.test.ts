import { describe, expect, it } from 'vitest';
import { parseCommandLine, parseDuration } from '../../../src/cli/args.js';
import { runLedgerCommand } from '../../../src/cli/ledger-commands.js';

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

describe('CLI --timeout beyond what a gRPC deadline can carry', () => {
  it('is bad usage, for the chat commands and the ledger alike, rather than a crash once the call starts', async () => {
    // grpc-timeout holds at most 8 digits of its largest unit, hours.
    expect(() => parseCommandLine(['chat', 'hi', '--timeout', '100000000h'], {})).toThrow(
      '--timeout: "100000000h" is longer than the longest deadline gRPC can send (99999999h)',
    );
    expect(parseCommandLine(['chat', 'hi', '--timeout', '99999999h'], {})).toMatchObject({ timeoutMs: 99_999_999 * 3_600_000 });
    let err = '';
    const code = await runLedgerCommand(
      ['usage', '--timeout', '99999999999d'],
      { LLMO_ADDR: '127.0.0.1:9' },
      () => undefined,
      (t) => (err += t),
    );
    expect([code, err]).toEqual([
      2,
      expect.stringContaining('--timeout: "99999999999d" is longer than the longest deadline gRPC can send'),
    ]);
  });
});
