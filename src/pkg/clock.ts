// The member's two clocks. Durations (lease TTLs, request and read deadlines, compaction
// retention) are measured on the monotonic clock, which a change of the system time does
// not move, as Go's time.Since does for etcd. The wall clock (Date.now) is only for
// timestamps and IDs.
//
// A failpoint for fault tests, off unless TSETCD_FAILPOINT_CLOCK_OFFSET_FILE is set:
// while that file holds an integer, Date.now() in this process is shifted by that many
// milliseconds, as if the system time had been set (re-read every 100 ms). The monotonic
// clock is left alone, as a real time change leaves CLOCK_MONOTONIC alone.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Milliseconds on a clock that only moves forward; meaningful only as differences. */
export function monotonicMs(): number {
  return performance.now();
}

let installed = false;

/** Installs the clock-offset failpoint when its env var is set; a no-op otherwise. */
export function installClockFailpoint(env: NodeJS.ProcessEnv = process.env): void {
  const file = env['TSETCD_FAILPOINT_CLOCK_OFFSET_FILE'];
  if (!file || installed) return;
  installed = true;
  const realNow = Date.now.bind(Date);
  let offsetMs = 0;
  const read = (): void => {
    try {
      const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
      offsetMs = Number.isSafeInteger(n) ? n : 0;
    } catch {
      offsetMs = 0;
    }
  };
  read();
  setInterval(read, 100).unref();
  Date.now = () => realNow() + offsetMs;
}
