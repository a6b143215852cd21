// A bounded window of in-flight MsgApp messages to one follower, identified by the
// last entry index each carried. A ring buffer that grows lazily up to its capacity.
import { assert } from './errors.js';

export class Inflights {
  private start = 0;
  private countNow = 0;
  private buffer: number[] = [];
  readonly size: number;

  constructor(size: number) {
    assert(size > 0, 'inflights size must be positive');
    this.size = size;
  }

  /** Records a message whose last entry is `index`; indexes must increase. */
  add(index: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    let next = this.start + this.countNow;
    if (next >= this.size) next -= this.size;
    if (next >= this.buffer.length) this.grow();
    this.buffer[next] = index;
    this.countNow++;
  }

  private grow(): void {
    let newSize = this.buffer.length * 2;
    if (newSize === 0) newSize = 1;
    else if (newSize > this.size) newSize = this.size;
    // slots are addressed modulo `size`, not the buffer length, so copying every slot
    // to the same position keeps the window intact
    const nb = new Array<number>(newSize).fill(0);
    for (let i = 0; i < this.buffer.length; i++) nb[i] = this.buffer[i]!;
    this.buffer = nb;
  }

  /** Frees every message whose last index is <= to (they were acknowledged). */
  freeLE(to: number): void {
    if (this.countNow === 0 || to < this.buffer[this.start]!) return;
    let idx = this.start;
    let i = 0;
    for (; i < this.countNow; i++) {
      if (to < this.buffer[idx]!) break;
      idx++;
      if (idx >= this.size) idx -= this.size;
    }
    this.countNow -= i;
    this.start = idx;
    if (this.countNow === 0) this.start = 0;
  }

  /** Frees the oldest message (a heartbeat response proves the follower is alive). */
  freeFirstOne(): void {
    if (this.countNow === 0) return;
    this.freeLE(this.buffer[this.start]!);
  }

  full(): boolean {
    return this.countNow === this.size;
  }

  count(): number {
    return this.countNow;
  }

  reset(): void {
    this.countNow = 0;
    this.start = 0;
  }
}
