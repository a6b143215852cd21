// Member-to-member transport: one outgoing message stream per peer, incoming streams
// accepted on the peer port, and snapshot transfer on connections of their own.
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { dial, type PeerTlsOptions } from './dialer.js';
import { PeerStream } from './peer-stream.js';
import { armReadDeadline, DEFAULT_RAFT_TIMEOUTS, type RaftConnTimeouts } from './link-deadlines.js';
import { destroyWhenIdle, systemClock, type Clock, type Timer } from '../pkg/clock.js';
import { RefusalLog } from '../pki/tls-context.js';
import { decodeHello, encodeHello, FrameReader, HELLO_BYTES, MAX_FRAME_BYTES, MAX_REJECT_REASON_BYTES, PREFACE_BYTES, RAFT_PREFACE, REJECT_REMOVED, REJECT_WITH_REASON, SNAP_PREFACE } from './protocol.js';

/** A snapshot connection that moves no bytes for this long is given up. */
const SNAPSHOT_IDLE_TIMEOUT_MS = 30_000;
/** Largest backend file accepted from a leader (etcd's backend quota tops out at 8 GiB). */
const MAX_SNAPSHOT_BYTES = 64 * 1024 ** 3;

export interface TransportLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface TransportOptions {
  localId: bigint;
  clusterId: () => bigint;
  tls?: PeerTlsOptions;
  /** the member's clock: time, timers and randomness for the streams' backoff (tests pin them) */
  clock?: Clock;
  /** where received snapshot files are written before they are applied */
  snapshotDir: string;
  logger: TransportLogger;
  /** a raft message from a peer (bytes as the peer's raft encoded them) */
  onMessage(from: bigint, message: Uint8Array): void;
  /** a whole snapshot arrived: its MsgSnap (without data) and the file holding the backend */
  onSnapshot(from: bigint, message: Uint8Array, file: string): void;
  /** the peer could not be reached; raft should slow down sending to it */
  onUnreachable(to: bigint): void;
  /** whether a member ID may talk to us (a member, not removed) */
  isKnownPeer(id: bigint): boolean;
  /** whether a member ID was removed from the cluster */
  isRemovedPeer(id: bigint): boolean;
  /** a peer told us this member was removed from the cluster */
  onRemovedFromCluster(): void;
  /** --raft-read-timeout / --raft-write-timeout (default 5 s each) */
  connTimeouts?: RaftConnTimeouts;
}

/**
 * A failpoint for fault tests (off unless TSETCD_FAILPOINT_PARTITION_FILE is set): the
 * file lists member IDs (hex, one per line) this member cannot reach, in either
 * direction, as if the network between them were cut. Re-read every 100 ms.
 */
class PartitionFailpoint {
  private cut = new Set<bigint>();
  private timer: Timer | undefined;

  constructor(
    private readonly file: string | undefined,
    clock: Clock,
  ) {
    if (!file) return;
    const read = (): void => {
      try {
        const text = fs.readFileSync(file, 'utf8');
        this.cut = new Set(text.split(/\s+/).filter(Boolean).map((h) => BigInt('0x' + h)));
      } catch {
        this.cut = new Set();
      }
    };
    read();
    this.timer = clock.every(100, read);
  }

  blocks(id: bigint): boolean {
    return this.cut.size > 0 && this.cut.has(id);
  }

  close(): void {
    this.timer?.cancel();
  }
}

export class PeerTransport {
  private readonly streams = new Map<bigint, PeerStream>();
  private readonly partition: PartitionFailpoint;
  private readonly clock: Clock;
  /** told when a stream to a peer comes up (the member's initial election tick advance waits on it) */
  private readonly activeListeners = new Set<() => void>();
  private readonly active = new Map<bigint, number>();
  private readonly incoming = new Set<net.Socket>();
  /** accepted message streams by sending member, so a removed member's can be closed */
  private readonly incomingFrom = new Map<bigint, Set<net.Socket>>();
  /** refused streams, logged at most 10 a minute: a foreign cluster's member keeps redialing */
  private readonly refusals: RefusalLog;

  constructor(private readonly opts: TransportOptions) {
    this.clock = opts.clock ?? systemClock;
    this.partition = new PartitionFailpoint(process.env['TSETCD_FAILPOINT_PARTITION_FILE'], this.clock);
    this.refusals = new RefusalLog((msg, fields) => opts.logger.warn(msg, fields));
    fs.mkdirSync(opts.snapshotDir, { recursive: true, mode: 0o700 });
  }

  addPeer(id: bigint, urls: string[]): void {
    const existing = this.streams.get(id);
    if (existing) {
      existing.setUrls(urls);
      return;
    }
    const stream = new PeerStream(urls, { clusterId: this.opts.clusterId(), from: this.opts.localId, to: id }, this.opts.tls, {
      onUnreachable: () => this.opts.onUnreachable(id),
      onActive: () => {
        this.active.set(id, this.clock.wallMs());
        for (const l of this.activeListeners) l();
      },
      onRemoved: () => this.opts.onRemovedFromCluster(),
      log: (msg, fields) => this.opts.logger.info(msg, fields),
      warn: (msg, fields) => this.opts.logger.warn(msg, fields),
    }, this.clock, this.opts.connTimeouts);
    this.streams.set(id, stream);
    if (!this.partition.blocks(id)) stream.start();
  }

  /** Calls `listener` each time a stream to a peer comes up; returns the unsubscribe function. */
  onPeerActive(listener: () => void): () => void {
    this.activeListeners.add(listener);
    return () => void this.activeListeners.delete(listener);
  }

  /** Peers that have a connected stream from us (etcd's active peers). */
  activePeerCount(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.connected) n++;
    return n;
  }

  /** `id` left the cluster: stop talking to it, and tell it on the streams it opened to us. */
  removePeer(id: bigint): void {
    this.streams.get(id)?.close();
    this.streams.delete(id);
    this.active.delete(id);
    for (const socket of this.incomingFrom.get(id) ?? []) socket.end(Buffer.from([REJECT_REMOVED]));
    this.incomingFrom.delete(id);
  }

  hasPeer(id: bigint): boolean {
    return this.streams.has(id);
  }

  /** When the stream to `id` last (re)connected; 0 if never. */
  activeSince(id: bigint): number {
    return this.streams.get(id)?.connected ? (this.active.get(id) ?? 0) : 0;
  }

  send(to: bigint, message: Uint8Array): void {
    if (this.partition.blocks(to)) {
      this.opts.onUnreachable(to);
      return;
    }
    const s = this.streams.get(to);
    if (s) s.send(message);
    else this.opts.onUnreachable(to);
  }

  /** Streams the backend file behind a MsgSnap; resolves true when the peer has it all. */
  async sendSnapshot(to: bigint, urls: string[], message: Uint8Array, file: string): Promise<boolean> {
    if (this.partition.blocks(to)) return false;
    const size = fs.statSync(file).size;
    for (const url of urls) {
      let socket: net.Socket | undefined;
      try {
        socket = await dial(url, this.opts.tls, 2000);
        const head = Buffer.alloc(4 + message.length + 8);
        head.writeUInt32BE(message.length, 0);
        head.set(message, 4);
        head.writeBigUInt64BE(BigInt(size), 4 + message.length);
        socket.write(Buffer.concat([SNAP_PREFACE, encodeHello({ clusterId: this.opts.clusterId(), from: this.opts.localId, to }), head]));
        const sock = socket;
        // a receiver that stops reading or never answers must not hold up the next try
        destroyWhenIdle(sock, SNAPSHOT_IDLE_TIMEOUT_MS, () => new Error(`no progress for ${SNAPSHOT_IDLE_TIMEOUT_MS / 1000}s`));
        await new Promise<void>((resolve, reject) => {
          const rs = fs.createReadStream(file);
          rs.on('error', reject);
          sock.on('error', reject);
          rs.pipe(sock, { end: false });
          rs.on('end', () => {
            // the receiver answers one byte once the file is safely on its disk
            sock.once('data', (b: Buffer) => (b[0] === 1 ? resolve() : reject(new Error('peer refused the snapshot'))));
          });
          sock.once('close', () => reject(new Error('connection closed during snapshot transfer')));
        });
        socket.destroy();
        this.opts.logger.info('sent database snapshot to the remote peer', { 'remote-peer-id': to.toString(16), bytes: size });
        return true;
      } catch (err) {
        socket?.destroy();
        this.opts.logger.warn('failed to send database snapshot', { 'remote-peer-id': to.toString(16), error: (err as Error).message });
      }
    }
    return false;
  }

  /** Takes over a peer-port connection whose first bytes (`head`) are a raft preface. */
  accept(socket: net.Socket, head: Buffer): void {
    this.incoming.add(socket);
    socket.once('close', () => this.incoming.delete(socket));
    socket.on('error', () => socket.destroy());
    const preface = head.subarray(0, PREFACE_BYTES);
    let buf = head.subarray(PREFACE_BYTES);
    let hello: ReturnType<typeof decodeHello> | undefined;
    const frames = new FrameReader();
    const isSnapshot = preface.equals(SNAP_PREFACE);
    let snap: SnapshotReceiver | undefined;
    const onData = (chunk: Buffer): void => {
      if (!hello) {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        if (buf.length < HELLO_BYTES) return;
        hello = decodeHello(buf.subarray(0, HELLO_BYTES));
        const problem = this.checkHello(hello);
        if (problem) {
          this.refusals.refused('rejected a stream from a peer', socket.remoteAddress, `${problem} (remote-peer-id ${hello.from.toString(16)})`);
          // a removed member is told so (once the cluster IDs match), and then stops
          if (!isSnapshot && hello.clusterId === this.opts.clusterId() && this.opts.isRemovedPeer(hello.from)) {
            socket.end(Buffer.from([REJECT_REMOVED]));
          } else if (!isSnapshot) {
            // the dialer logs why and backs off (and needs no more than a line of it)
            socket.end(Buffer.concat([Buffer.from([REJECT_WITH_REASON]), Buffer.from(problem, 'utf8').subarray(0, MAX_REJECT_REASON_BYTES)]));
          } else socket.destroy();
          return;
        }
        // the peer is up: our stream to it need not wait out a backoff
        this.streams.get(hello.from)?.kick();
        if (!isSnapshot) {
          armReadDeadline(socket, (this.opts.connTimeouts ?? DEFAULT_RAFT_TIMEOUTS).readTimeoutMs);
          const from = hello.from;
          let set = this.incomingFrom.get(from);
          if (!set) this.incomingFrom.set(from, (set = new Set()));
          set.add(socket);
          socket.once('close', () => {
            set.delete(socket);
            if (set.size === 0 && this.incomingFrom.get(from) === set) this.incomingFrom.delete(from);
          });
        }
        chunk = buf.subarray(HELLO_BYTES);
        if (chunk.length === 0) return;
      }
      try {
        if (isSnapshot) {
          snap ??= new SnapshotReceiver(this.opts.snapshotDir, hello.from, this.clock.wallMs(), (msg, file) => {
            socket.write(Buffer.from([1]));
            this.opts.onSnapshot(hello!.from, msg, file);
          });
          snap.push(chunk);
        } else {
          // an empty frame is the sender's link heartbeat
          for (const f of frames.push(chunk)) if (f.length > 0 && !this.partition.blocks(hello.from)) this.opts.onMessage(hello.from, f);
        }
      } catch (err) {
        this.opts.logger.warn('dropped a malformed peer stream', { 'remote-peer-id': hello.from.toString(16), error: (err as Error).message });
        snap?.abort();
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => snap?.abort());
    if (buf.length > 0) {
      const initial = buf;
      buf = Buffer.alloc(0);
      onData(initial);
    }
  }

  private checkHello(h: ReturnType<typeof decodeHello>): string | undefined {
    if (h.to !== this.opts.localId) return `stream is for member ${h.to.toString(16)}, this is ${this.opts.localId.toString(16)}`;
    if (h.clusterId !== this.opts.clusterId()) {
      return `cluster ID mismatch: the peer is in cluster ${h.clusterId.toString(16)}, this member in ${this.opts.clusterId().toString(16)}`;
    }
    if (!this.opts.isKnownPeer(h.from)) return `member ${h.from.toString(16)} is not (or no longer) in this cluster`;
    return undefined;
  }

  close(): void {
    this.partition.close();
    for (const s of this.streams.values()) s.close();
    this.streams.clear();
    for (const s of this.incoming) s.destroy();
  }
}

/**
 * Receives one snapshot stream into a file, then reports the message and the file. The
 * stream is: the MsgSnap as one length-prefixed frame, the file size as a u64, the file.
 */
class SnapshotReceiver {
  private message: Uint8Array | undefined;
  private size = -1;
  private received = 0;
  private fd: number | undefined;
  private readonly file: string;
  private header: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(
    dir: string,
    from: bigint,
    startedWallMs: number,
    private readonly onComplete: (message: Uint8Array, file: string) => void,
  ) {
    this.file = path.join(dir, `incoming-${from.toString(16)}-${startedWallMs}.db`);
  }

  push(chunk: Buffer): void {
    if (this.done) return;
    if (this.size < 0) {
      // the header arrives in pieces of any size: collect it whole before reading it
      this.header = this.header.length === 0 ? chunk : Buffer.concat([this.header, chunk]);
      if (this.header.length < 4) return;
      const messageBytes = this.header.readUInt32BE(0);
      if (messageBytes > MAX_FRAME_BYTES) throw new Error(`snapshot message of ${messageBytes} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
      if (this.header.length < 4 + messageBytes + 8) return;
      this.message = this.header.subarray(4, 4 + messageBytes);
      const size = this.header.readBigUInt64BE(4 + messageBytes);
      if (size > BigInt(MAX_SNAPSHOT_BYTES)) throw new Error(`snapshot of ${size} bytes exceeds the ${MAX_SNAPSHOT_BYTES}-byte limit`);
      this.size = Number(size);
      chunk = this.header.subarray(4 + messageBytes + 8);
      this.header = Buffer.alloc(0);
      this.fd = fs.openSync(this.file, 'w', 0o600);
    }
    if (chunk.length > 0) {
      const take = chunk.subarray(0, this.size - this.received);
      fs.writeSync(this.fd!, take);
      this.received += take.length;
    }
    if (this.received === this.size) {
      fs.fsyncSync(this.fd!);
      fs.closeSync(this.fd!);
      this.fd = undefined;
      this.done = true;
      this.onComplete(this.message!, this.file);
    }
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    fs.rmSync(this.file, { force: true });
  }
}
