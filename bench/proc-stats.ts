/**
 * What the kernel says of a process (/proc/<pid>/…), for any target alike: the floors have no /metrics, a
 * server's own figures leave out what it does not know of (threads, the allocator), and a child that has
 * exited can no longer be asked.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Ticks per second of the stat fields (usually 100), asked once. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** A process's CPU seconds (all threads, user + system); null when it cannot be read. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** A memory field of /proc/<pid>/status in bytes (VmRSS; VmHWM: the peak RSS); NaN when it cannot be read. */
export function procBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}
