/**
 * CPU pinning for a measurement on a small machine: the process under test gets a core of its
 * own and everything else (the load generator, the upstream, a database) shares the other one, so
 * the measured process's throughput is bound by its own core and no neighbour takes its CPU.
 * Uses `taskset` (util-linux).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { descendants } from './proc.js';

/** Pins every thread of `pid` (and of its descendants) to `cpus` (a taskset list, e.g. "0"). */
export function pinProcess(pid: number, cpus: string): void {
  for (const p of [pid, ...descendants(pid)]) {
    const r = spawnSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(p)], { encoding: 'utf8' });
    if (r.error) throw new Error(`taskset is missing (util-linux): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`taskset --cpu-list ${cpus} --pid ${p} failed: ${r.stderr.trim()}`);
  }
}

/** The CPUs a thread may run on, as taskset prints them (e.g. "0" or "0,1"). */
export function affinityOf(pid: number): string {
  const r = spawnSync('taskset', ['--cpu-list', '--pid', String(pid)], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split(':').pop()?.trim() ?? '?') : '?';
}

/** Processes whose command line names `program` (e.g. "postgres"), with the CPUs each may use. */
export function affinityOfProgram(program: string): { pid: number; cpus: string }[] {
  const out: { pid: number; cpus: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm = '';
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === program) out.push({ pid: Number(entry), cpus: affinityOf(Number(entry)) });
  }
  return out;
}
