// Collects the frames a connection produces until the next flush, so that everything
// made while handling a batch of input leaves in one socket write. Small frames are
// written into a slab (a preallocated buffer carved up front to back, never reused
// once handed out); large DATA payloads are kept as references and not copied.

const SLAB_BYTES = 16 * 1024;

export class OutputBuffer {
  private parts: Uint8Array[] = [];
  private slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  /** first slab byte not yet moved into `parts` */
  private start = 0;
  /** next free slab byte */
  private pos = 0;
  /** bytes waiting to be taken */
  bytes = 0;

  /**
   * Reserves `n` bytes and returns their offset in `buf`. Write them before the next
   * reserve() or append(): `buf` may be a new slab after each call.
   */
  reserve(n: number): number {
    if (this.pos + n > this.slab.length) {
      this.seal();
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
      this.start = 0;
      this.pos = 0;
    }
    const off = this.pos;
    this.pos += n;
    this.bytes += n;
    return off;
  }

  /** The current slab, for writing at an offset returned by reserve(). */
  get buf(): Buffer {
    return this.slab;
  }

  /** Queues bytes by reference, after everything reserved so far. */
  append(bytes: Uint8Array): void {
    this.seal();
    this.parts.push(bytes);
    this.bytes += bytes.length;
  }

  /** Hands out everything queued, in order, and starts empty. */
  take(): Uint8Array[] {
    this.seal();
    const parts = this.parts;
    this.parts = [];
    this.bytes = 0;
    return parts;
  }

  private seal(): void {
    if (this.pos > this.start) {
      this.parts.push(this.slab.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }
}

// One setImmediate flushes every connection with pending output, so that all the
// frames a turn produced leave in one socket write per connection.
let flushList: Array<{ flush(): void }> = [];
let flushScheduled = false;

function runFlushes(): void {
  flushScheduled = false;
  const list = flushList;
  flushList = [];
  for (const c of list) c.flush();
}

/** Calls target.flush() once at the end of this event-loop turn (the caller dedupes). */
export function scheduleFlush(target: { flush(): void }): void {
  flushList.push(target);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(runFlushes);
  }
}
