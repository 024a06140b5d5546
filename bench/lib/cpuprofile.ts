/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by area
 * (a package under node_modules, node internals, our src/, GC, idle), so before/after
 * profiles can be compared as text.
 *
 *   npx tsx bench/lib/cpuprofile.ts FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { checkArgs } from './args.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileRow {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Time not idle (program + GC). */
  readonly busyMs: number;
  readonly functions: readonly ProfileRow[];
  readonly areas: readonly ProfileRow[];
}

export function summariseProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const f = node.callFrame;
    if (f.functionName === '(idle)') idle += us;
    const name = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const a = areaOf(f);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const busy = total - idle;
  const rows = (map: Map<string, number>, n: number): ProfileRow[] =>
    [...map.entries()]
      .filter(([name]) => !name.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0 }));
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    functions: rows(fn, top),
    areas: rows(area, 20),
  };
}

export function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (functionName === '(program)') return '(program: native, unattributed)';
  if (!url) return `(native) ${functionName}`.trim();
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:internal/deps/undici')) return 'node:undici (fetch)';
  if (url.startsWith('node:internal/http2') || url.startsWith('node:http2')) return 'node:http2';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node:streams';
  if (url.startsWith('node:internal/webstreams')) return 'node:webstreams';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  const src = url.indexOf('/src/');
  if (src >= 0)
    return url
      .slice(src + 1)
      .split('/')
      .slice(0, 2)
      .join('/');
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `src/${url.slice(dist + 6).split('/')[0]}`;
  return url;
}

export function formatProfile(summary: ProfileSummary, title: string): string {
  const out = [`${title}: ${summary.busyMs} ms busy of ${summary.totalMs} ms sampled`];
  out.push('  by area (self time):');
  for (const r of summary.areas) out.push(`    ${r.percent.toFixed(1).padStart(5)}%  ${r.name}`);
  out.push('  top functions (self time):');
  for (const r of summary.functions) out.push(`    ${r.percent.toFixed(1).padStart(5)}%  ${r.name}`);
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const usage = 'usage: npx tsx bench/lib/cpuprofile.ts FILE.cpuprofile [--top N]\n';
  checkArgs(usage, { values: ['top'], positional: 1 });
  const file = process.argv.slice(2).find((arg, i, all) => !arg.startsWith('-') && all[i - 1] !== '--top');
  if (!file) {
    process.stderr.write(usage);
    process.exit(2);
  }
  const topAt = process.argv.indexOf('--top');
  const top = topAt >= 0 ? Number(process.argv[topAt + 1]) : 30;
  process.stdout.write(`${formatProfile(summariseProfile(file, top), file)}\n`);
}

/** A node of V8's sampling heap profile (the shape `HeapProfiler.stopSampling` returns). */
export interface HeapProfileNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly HeapProfileNode[];
}

/**
 * Sampled heap bytes by area and by function, as table rows of bytes per unit (`per` calls or
 * requests, named by `unit`), and the sampled total per unit in KB.
 */
export function heapProfileRows(
  head: HeapProfileNode,
  per: number,
  unit: string,
  top: number,
): { readonly sampledKb: number; readonly byArea: string[]; readonly byFunction: string[] } {
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let sampled = 0;
  const walk = (node: HeapProfileNode): void => {
    const f = node.callFrame;
    if (node.selfSize > 0) {
      sampled += node.selfSize;
      const area = areaOf(f);
      byArea.set(area, (byArea.get(area) ?? 0) + node.selfSize);
      const name = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(head);
  const rows = (map: Map<string, number>, n: number): string[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([name, bytes]) =>
          `  ${((bytes / sampled) * 100).toFixed(1).padStart(5)}%  ${(bytes / per / 1024).toFixed(2).padStart(6)} KB/${unit}  ${name}`,
      );
  return { sampledKb: sampled / per / 1024, byArea: rows(byArea, 20), byFunction: rows(byFunction, top) };
}
