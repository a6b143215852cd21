// Relays one watch's responses to a browser as JSON lines, thinned to what a person can
// read, so an open Watch view costs the member little however busy the keys are.
// Contract:
// - Responses are queued as the member's protobuf bytes and turned into JSON only at a
//   flush, once per FLUSH_INTERVAL_MS, in one write.
// - A flush carries at most MAX_EVENTS_PER_FLUSH events: the newest ones. The events
//   left out are announced in order by a {"skipped": n} line before the results that
//   follow them, so the browser can say how many it did not see.
// - While the browser has not taken the previous write (the socket is backed up), nothing
//   is written; the queue keeps thinning, so memory stays bounded.
// - Responses that are not events (created, canceled, compaction) are never dropped.
import { WatchResponse } from '../proto/etcdserverpb.js';

/** four updates a second look live to a person and cost the member four writes, not one per event */
export const FLUSH_INTERVAL_MS = 250;
/** the Watch view keeps the newest 500 events; 50 per flush (200 a second) is more than anyone reads */
export const MAX_EVENTS_PER_FLUSH = 50;

export interface RelaySink {
  /** one write of whole lines; false when the socket is backed up */
  write(text: string): boolean;
  readonly backedUp: boolean;
}

interface Queued {
  bytes: Uint8Array;
  events: number;
  /** created/canceled/compaction: kept whatever the load */
  control: boolean;
  /** events dropped just before this response */
  skippedBefore: number;
}

export class WatchRelay {
  private queue: Queued[] = [];
  private queuedEvents = 0;
  /** dropped events not yet announced, because nothing queued follows them yet */
  private skippedTail = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sink: RelaySink) {
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  push(bytes: Uint8Array): void {
    const { events, control } = scanWatchResponse(bytes);
    this.queue.push({ bytes, events, control, skippedBefore: this.skippedTail });
    this.skippedTail = 0;
    this.queuedEvents += events;
    this.thin();
  }

  /** Drops the oldest event responses until the queue fits one flush (the newest always stays). */
  private thin(): void {
    let i = 0;
    while (this.queuedEvents > MAX_EVENTS_PER_FLUSH && i < this.queue.length - 1) {
      const q = this.queue[i]!;
      if (q.control) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.queuedEvents -= q.events;
      const dropped = q.skippedBefore + q.events;
      const next = this.queue[i];
      if (next) next.skippedBefore += dropped;
      else this.skippedTail += dropped;
    }
  }

  /** force: write even to a backed-up socket (the last flush before the stream ends) */
  flush(force = false): void {
    if (this.queue.length === 0 || (this.sink.backedUp && !force)) return;
    let text = '';
    for (const q of this.queue) {
      if (q.skippedBefore > 0) text += `{"skipped":${q.skippedBefore}}\n`;
      text += JSON.stringify({ result: WatchResponse.toJSON(WatchResponse.decode(q.bytes)) }) + '\n';
    }
    this.queue = [];
    this.queuedEvents = 0;
    this.sink.write(text);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
/** WatchResponse fields: created 3, canceled 4, compact_revision 5, cancel_reason 6, events 11 */
const CONTROL_FIELDS = new Set([3, 4, 5, 6]);
const EVENTS_FIELD = 11;

/**
 * Counts a WatchResponse's events and tells whether it is a control response, by walking
 * its top-level fields only (no decoding): the relay does this for every response.
 */
export function scanWatchResponse(bytes: Uint8Array): { events: number; control: boolean } {
  let pos = 0;
  let events = 0;
  let control = false;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++]!;
      if (b === undefined) throw new Error('truncated WatchResponse');
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    let nonZero = true;
    if (wire === WIRE_VARINT) nonZero = varint() !== 0;
    else if (wire === WIRE_LEN) {
      const n = varint();
      nonZero = n > 0;
      pos += n;
    } else if (wire === WIRE_I64) pos += 8;
    else if (wire === WIRE_I32) pos += 4;
    else throw new Error(`WatchResponse: unexpected wire type ${wire}`);
    if (field === EVENTS_FIELD) events++;
    else if (CONTROL_FIELDS.has(field) && nonZero) control = true;
  }
  return { events, control };
}
