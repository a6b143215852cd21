// Every member's Status (raft term/index/applied, db size and in use, version, alarms)
// for the Cluster view, not only the serving member's.
// Contract:
// - This member answers from its own handler; every other member is asked
//   etcdserverpb.Maintenance/Status over its *peer* URLs, where members serve the client
//   gRPC API too (as etcd does), with this member's peer TLS credentials and the peer
//   dialer's verification. Why the peer side and not the client URLs: every member must
//   already reach every peer URL with exactly these credentials (raft depends on it),
//   while client URLs may listen where other members cannot reach and a member's
//   client-side certificate may be valid for server auth only. Status needs no user.
// - A member that does not answer within STATUS_TIMEOUT_MS is reported with the reason.
// - Answers are shared for CACHE_MS, so any number of open browsers cost the cluster one
//   round of Status calls per interval; one HTTP/2 connection per member is kept.
import type { Duplex } from 'node:stream';
import type { AnyUnaryMethod } from '../api/method.js';
import { UnaryClient } from '../client/unary-client.js';
import { dial, type PeerTlsOptions } from '../peer/dialer.js';
import { StatusRequest, StatusResponse } from '../proto/etcdserverpb.js';
import type { EtcdServer } from '../server/server.js';

/** a live member answers Status in well under a second; an election timeout is 1 s by default */
const STATUS_TIMEOUT_MS = 1000;
/** the Cluster view polls every 2 s; half that keeps it live and merges browsers' polls */
const CACHE_MS = 1000;
const STATUS_PATH = '/etcdserverpb.Maintenance/Status';

export interface MemberStatus {
  /** decimal, as the gateway's member list spells IDs */
  ID: string;
  status?: unknown;
  error?: string;
}

interface PeerConnection {
  client: UnaryClient;
  socket: Duplex;
}

export class ClusterStatus {
  private readonly peers = new Map<bigint, PeerConnection>();
  private cached?: { atMs: number; answer: Promise<MemberStatus[]> };

  constructor(
    private readonly server: EtcdServer,
    private readonly localStatus: AnyUnaryMethod,
    private readonly peerTls: PeerTlsOptions | undefined,
    private readonly nowMs: () => number = Date.now,
  ) {}

  all(): Promise<MemberStatus[]> {
    const now = this.nowMs();
    if (this.cached && now - this.cached.atMs < CACHE_MS) return this.cached.answer;
    const answer = this.ask();
    this.cached = { atMs: now, answer };
    return answer;
  }

  private async ask(): Promise<MemberStatus[]> {
    const members = this.server.members();
    for (const id of this.peers.keys()) {
      if (!members.some((m) => m.id === id)) this.forget(id);
    }
    return Promise.all(
      members.map(async (m): Promise<MemberStatus> => {
        try {
          const status = m.id === this.server.memberId ? await this.askSelf() : await this.askPeer(m.id, m.peerURLs);
          return { ID: m.id.toString(), status: StatusResponse.toJSON(status) };
        } catch (err) {
          return { ID: m.id.toString(), error: (err as Error).message };
        }
      }),
    );
  }

  private async askSelf(): Promise<StatusResponse> {
    const request = StatusRequest.create({});
    const ctx = { path: STATUS_PATH, metadata: {}, signal: new AbortController().signal };
    return (await this.localStatus.handle(request, StatusRequest.encode(request), ctx)) as StatusResponse;
  }

  private async askPeer(id: bigint, peerURLs: string[]): Promise<StatusResponse> {
    const conn = await this.connection(id, peerURLs);
    try {
      return StatusResponse.decode(await conn.client.call(STATUS_PATH, StatusRequest.encode(StatusRequest.create({})), { timeoutMs: STATUS_TIMEOUT_MS }));
    } catch (err) {
      // a member that stopped answering gets a fresh connection next time
      this.forget(id);
      throw err;
    }
  }

  private async connection(id: bigint, peerURLs: string[]): Promise<PeerConnection> {
    const known = this.peers.get(id);
    if (known && !known.socket.destroyed) return known;
    this.forget(id);
    if (peerURLs.length === 0) throw new Error('the member has no peer URLs');
    let lastError: unknown;
    for (const url of peerURLs) {
      try {
        const socket = await dial(url, this.peerTls, STATUS_TIMEOUT_MS);
        // the URL only names the :authority; the connection is the dialed socket
        const conn = { socket, client: new UnaryClient(/^(https|unixs):/.test(url) ? 'https://member' : 'http://member', undefined, () => socket) };
        this.peers.set(id, conn);
        return conn;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private forget(id: bigint): void {
    const conn = this.peers.get(id);
    if (!conn) return;
    this.peers.delete(id);
    conn.client.close();
    conn.socket.destroy();
  }

  close(): void {
    for (const id of [...this.peers.keys()]) this.forget(id);
  }
}
