// The member's time, timers and randomness, behind one interface (Clock) that the server,
// raft driver, peers, lease and watch take as an option, so a simulator can run them on
// virtual time; `systemClock` is the real one, and this file is the only place in those
// modules that touches Date.now, setTimeout, setInterval or Math.random.
//
// Durations (lease TTLs, request and read deadlines, compaction retention) are measured on
// the monotonic clock (nowMs), which a change of the system time does not move, as Go's
// time.Since does for etcd. The wall clock (wallMs) is only for timestamps and IDs.
// Timers never keep the process alive: a member stops by closing what it opened.
//
// A failpoint for fault tests, off unless TSETCD_FAILPOINT_CLOCK_OFFSET_FILE is set:
// while that file holds an integer, Date.now() in this process is shifted by that many
// milliseconds, as if the system time had been set (re-read every 100 ms). The monotonic
// clock is left alone, as a real time change leaves CLOCK_MONOTONIC alone.
import fs from 'node:fs';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** A pending timer: cancel() is idempotent and safe after it fired. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** milliseconds on a clock that only moves forward; meaningful only as differences */
  nowMs(): number;
  /** milliseconds since the Unix epoch, for timestamps and IDs (moves with the system time) */
  wallMs(): number;
  /** runs `fn` once, `delayMs` from now */
  after(delayMs: number, fn: () => void): Timer;
  /** runs `fn` every `intervalMs` until cancelled */
  every(intervalMs: number, fn: () => void): Timer;
  /** resolves `delayMs` from now */
  sleep(delayMs: number): Promise<void>;
  /** uniform in [0, 1): jitter and raft's randomized election timeouts */
  random(): number;
}

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
  after(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  every(intervalMs, fn) {
    const t = setInterval(fn, intervalMs);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
  sleep: (delayMs) => new Promise((resolve) => setTimeout(resolve, Math.max(0, delayMs))),
  random: () => Math.random(),
};

/**
 * Destroys `socket` with `reason` when no byte moves on it for `idleMs` (the socket's own
 * idle timer: it belongs to the I/O, which a simulation replaces whole).
 */
export function destroyWhenIdle(socket: Socket, idleMs: number, reason: () => Error): void {
  socket.setTimeout(idleMs, () => socket.destroy(reason()));
}

/** Milliseconds on a clock that only moves forward; meaningful only as differences (systemClock.nowMs). */
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
