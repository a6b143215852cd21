// A one-line progress display for long file work (snapshot save and restore): bytes done
// of the total, the rate, and the time left, redrawn in place on a terminal at most every
// REDRAW_INTERVAL_MS. When stderr is not a terminal nothing is drawn at all, so scripts
// and `-w json` users get exactly the tool's output. The clock is injected for tests.
import { humanizeBytes } from './ctl/gofmt.js';

/** often enough to look alive, rarely enough to cost nothing */
const REDRAW_INTERVAL_MS = 200;

export interface ProgressSink {
  isTTY: boolean;
  write(text: string): void;
}

export class Progress {
  private startedMs: number;
  private lastDrawMs = -Infinity;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly sink: ProgressSink,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.startedMs = nowMs();
  }

  update(doneBytes: number, totalBytes: number): void {
    if (!this.sink.isTTY) return;
    const now = this.nowMs();
    if (now - this.lastDrawMs < REDRAW_INTERVAL_MS && doneBytes < totalBytes) return;
    this.lastDrawMs = now;
    this.drawn = true;
    this.sink.write(`\r\x1b[K${progressLine(this.label, doneBytes, totalBytes, now - this.startedMs)}`);
  }

  /** Ends the line the display was drawing on, if any. */
  done(): void {
    if (this.drawn) this.sink.write('\n');
    this.drawn = false;
  }
}

export function progressLine(label: string, doneBytes: number, totalBytes: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (doneBytes * 1000) / elapsedMs : 0;
  const pct = totalBytes > 0 ? Math.floor((doneBytes * 100) / totalBytes) : 100;
  const leftSec = rate > 0 ? Math.ceil((totalBytes - doneBytes) / rate) : undefined;
  const eta = leftSec === undefined ? '?' : `${leftSec}s`;
  return `${label}: ${humanizeBytes(doneBytes)} / ${humanizeBytes(totalBytes)} (${pct}%), ${humanizeBytes(Math.round(rate))}/s, ETA ${eta}`;
}

export function stderrSink(): ProgressSink {
  return { isTTY: process.stderr.isTTY === true, write: (t) => process.stderr.write(t) };
}
