// CPU time of other processes (an upstream, nginx's workers) from /proc, for CPU per request
// beside the bench process's own process.cpuUsage(). Linux only: 0 where there is no /proc.
import { readFileSync } from 'node:fs';

/** user + system CPU of `pid`, in µs (clock ticks of 10 ms: sum it over a long enough window). */
export function processCpuUs(pid: number): number {
  try {
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

/** The direct children of `pid` (e.g. nginx's workers under its master); [] where unknown. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(' ')
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** The summed CPU of several processes, in µs. */
export function cpuOfUs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += processCpuUs(pid);
  return total;
}
