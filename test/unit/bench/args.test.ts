import { describe, expect, it } from 'vitest';
import { judgeArgs } from '../../../bench/lib/args.js';

describe('judgeArgs', () => {
  const spec = { flags: ['stream'], values: ['rounds', 'node-arg'] } as const;

  it('runs with the options the tool reads, a value that starts with a dash included', () => {
    expect(judgeArgs(['--stream', '--rounds', '3', '--node-arg', '--max-semi-space-size=32'], spec)).toEqual({ kind: 'run' });
  });

  it('answers --help and -h with the usage, whatever else is there', () => {
    expect(judgeArgs(['--rounds', '3', '--help'], spec)).toEqual({ kind: 'help' });
    expect(judgeArgs(['-h'], spec)).toEqual({ kind: 'help' });
  });

  it('refuses an option it does not read, a missing value and an argument it does not take', () => {
    expect(judgeArgs(['--roudns', '3'], spec)).toEqual({ kind: 'refuse', problem: 'unknown option --roudns' });
    expect(judgeArgs(['--rounds'], spec)).toEqual({ kind: 'refuse', problem: '--rounds needs a value' });
    expect(judgeArgs(['3'], spec)).toEqual({ kind: 'refuse', problem: 'unexpected argument "3"' });
    expect(judgeArgs(['a.cpuprofile'], { positional: 1 })).toEqual({ kind: 'run' });
  });
});
