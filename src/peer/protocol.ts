// The member-to-member wire protocol on the peer port. A connection that opens with one
// of these prefaces carries raft traffic; anything else is HTTP (/members, /version,
// lease forwarding).
//
//   message stream:  "TSETCD-RAFT/1\n" hello, then frames [u32 length][raft message]
//   snapshot stream: "TSETCD-SNAP/1\n" hello, [u32 length][raft MsgSnap without data],
//                    [u64 size], then `size` bytes of the backend file
//
// hello: [u64 cluster ID][u64 sender member ID][u64 receiver member ID]. The receiver
// checks both IDs before it accepts anything, as etcd checks X-Etcd-Cluster-ID, so two
// clusters sharing a network (or a member from an old cluster) never mix. The receiver
// otherwise never writes on a message stream, except one byte before it closes the
// stream of a member that was removed from the cluster (etcd answers 410 Gone), so that
// member learns it and stops, and, when it refuses a stream for another reason (cluster
// ID mismatch, unknown member), REJECT_WITH_REASON and the reason in UTF-8 before it
// closes, so the dialing member can log why and back off (etcd answers 412 with
// X-Etcd-Cluster-ID). An older dialer just sees the stream close.

export const RAFT_PREFACE = Buffer.from('TSETCD-RAFT/1\n');
export const SNAP_PREFACE = Buffer.from('TSETCD-SNAP/1\n');
export const PREFACE_BYTES = RAFT_PREFACE.length;
export const HELLO_BYTES = 24;
/** a raft message bigger than this is refused: it cannot be legitimate (etcd caps at 64 MiB too) */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** written by the receiver to a member removed from the cluster, just before it closes the stream */
export const REJECT_REMOVED = 0x52;
/** written by the receiver before the reason it refused the stream for, then it closes */
export const REJECT_WITH_REASON = 0x58;
/** the longest refusal reason read from a peer */
export const MAX_REJECT_REASON_BYTES = 512;

/**
 * Written by the peer listener, in place of anything else, to a connection whose client
 * certificate it refuses (chain, CRL, --peer-cert-allowed-cn/-hostname), before it closes
 * it: etcd refuses these in the TLS handshake with a bad_certificate alert, which Node
 * cannot send once the handshake is done, so the dialer learns it from this byte (the
 * alert's number) and reports what Go reports: "remote error: tls: bad certificate".
 */
export const REJECT_BAD_CERT = 0x2a;
export const BAD_CERT_TEXT = 'remote error: tls: bad certificate';

export interface Hello {
  clusterId: bigint;
  from: bigint;
  to: bigint;
}

export function encodeHello(h: Hello): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  b.writeBigUInt64BE(h.clusterId, 0);
  b.writeBigUInt64BE(h.from, 8);
  b.writeBigUInt64BE(h.to, 16);
  return b;
}

export function decodeHello(b: Buffer): Hello {
  return { clusterId: b.readBigUInt64BE(0), from: b.readBigUInt64BE(8), to: b.readBigUInt64BE(16) };
}

/** Frames messages for one socket write. */
export function frameAll(messages: Uint8Array[]): Buffer {
  let total = 0;
  for (const m of messages) total += 4 + m.length;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const m of messages) {
    out.writeUInt32BE(m.length, pos);
    out.set(m, pos + 4);
    pos += 4 + m.length;
  }
  return out;
}

/** Reassembles length-prefixed frames from a byte stream. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) throw new Error(`peer frame of ${len} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
      if (this.buffered < 4 + len) break;
      const frame = this.take(4 + len);
      out.push(frame.subarray(4));
    }
    return out;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    return first.length >= n ? first : Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const frame = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}
