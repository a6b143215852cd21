// ReadIndex requests waiting for the leader to confirm it still leads: each request
// remembers the commit index at the time it arrived; a heartbeat round carrying the
// newest request's context, acknowledged by a majority, releases that request and
// every earlier one.
import type { Message } from './message.js';
import { bytesKey } from './util.js';

export interface ReadIndexStatus {
  /** the MsgReadIndex as received (entries[0].data is the context) */
  req: Message;
  index: number;
  acks: Set<bigint>;
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Queues a request at `index` unless one with the same context is queued already. */
  addRequest(index: number, m: Message): void {
    const key = bytesKey(m.entries[0]!.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, req: m, acks: new Set() });
    this.queue.push(key);
  }

  /** Records that `id` acknowledged the heartbeat with this context; returns the acks. */
  recvAck(id: bigint, ctx: Uint8Array): Set<bigint> | undefined {
    const rs = this.pending.get(bytesKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues every request up to and including the one with this context. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = bytesKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      out.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    return out;
  }

  /** Context of the newest pending request, sent with every heartbeat. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.entries[0]!.data;
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
