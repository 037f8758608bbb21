// Process metrics of a child, from /proc (Linux): resident set size and CPU time.
import { readFileSync } from 'node:fs';

export function rssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const TICKS_PER_SEC = 100;

/** User + system CPU time of a process, in microseconds. */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted from after the command name.
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC) * 1e6;
  } catch {
    return null;
  }
}

/** Samples a child's RSS every `intervalMs` until stopped; returns the maximum seen. */
export function sampleRss(pid, intervalMs = 100) {
  let max = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    const v = rssBytes(pid);
    if (v !== null && v > max) max = v;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}
