// Time for the plugin's own measurements (durations in logs, the start-up figure). Deliberately not
// performance.now(): the first use of the global `performance` loads perf_hooks and nine internal
// modules, about 1 ms of CPU at every plugin start (bench/cni/README.md). process.uptime() counts
// from the same origin, the process's start, with sub-millisecond resolution.

/** Milliseconds since this process started. */
export function msSinceStart(): number {
  return process.uptime() * 1000;
}

/** A duration in milliseconds rounded to a tenth, from a msSinceStart() reading. */
export function elapsedMs(since: number): number {
  return Math.round((msSinceStart() - since) * 10) / 10;
}
