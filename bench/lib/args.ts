/**
 * A bench tool's command line, checked before anything starts. Each tool puts minutes of load on
 * the machine (and may install h2load) whatever it is given, so `--help` must print its usage
 * instead of running it, and an option it does not read (a typo, another tool's option) must stop
 * it rather than leave a long run measuring something other than what was asked.
 */

export interface ArgSpec {
  /** Options that stand alone: `--stream`. */
  readonly flags?: readonly string[];
  /** Options followed by a value, which may start with a dash: `--rounds 3`, `--node-arg --x`. */
  readonly values?: readonly string[];
  /** How many arguments that are not options the tool takes (a file name); default none. */
  readonly positional?: number;
}

export type ArgsVerdict = { readonly kind: 'run' } | { readonly kind: 'help' } | { readonly kind: 'refuse'; readonly problem: string };

export function judgeArgs(argv: readonly string[], spec: ArgSpec): ArgsVerdict {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help' };
  const flags = new Set(spec.flags ?? []);
  const values = new Set(spec.values ?? []);
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.startsWith('-') && arg !== '-') {
      const name = arg.replace(/^--?/, '');
      if (flags.has(name)) continue;
      if (!values.has(name)) return { kind: 'refuse', problem: `unknown option ${arg}` };
      if (i + 1 >= argv.length) return { kind: 'refuse', problem: `${arg} needs a value` };
      i += 1;
    } else if (++positional > (spec.positional ?? 0)) {
      return { kind: 'refuse', problem: `unexpected argument ${JSON.stringify(arg)}` };
    }
  }
  return { kind: 'run' };
}

/** Exits 0 with the usage on `--help`, 2 with the problem and the usage on a bad option; else returns. */
export function checkArgs(usage: string, spec: ArgSpec, argv: readonly string[] = process.argv.slice(2)): void {
  const verdict = judgeArgs(argv, spec);
  if (verdict.kind === 'run') return;
  const text = usage.endsWith('\n') ? usage : `${usage}\n`;
  if (verdict.kind === 'help') {
    process.stdout.write(text);
    process.exit(0);
  }
  process.stderr.write(`${verdict.problem}\n${text}`);
  process.exit(2);
}
