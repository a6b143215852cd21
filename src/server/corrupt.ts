// Data corruption checks between members (etcd's --experimental-initial-corrupt-check
// and --experimental-corrupt-check-time).
//
// Contract:
//  - Members ask each other for the KV hash at a revision over the peer port, with etcd's
//    own request and answer: GET <peerURL>/members/hashkv, JSON body {"revision":N},
//    answer {"header":{"revision":R},"hash":H,"compact_revision":C} (Go's encoding/json of
//    etcd's HashKVResponse), or HTTP 400 with the mvcc error text.
//  - initialCheck: a restarting member compares its hash with every peer's at its own
//    revision; a different hash at the same compact revision is corruption, and the
//    member must not start (etcd: "<id> found data inconsistency with peers").
//  - periodicCheck (leader only): etcd's checkHashKV rules; any mismatch raises the
//    CORRUPT alarm once (member ID 0, as etcd 3.4/3.5 do: it is not known who is wrong).
// The hash itself is the server's hashKV(revision); this module only compares.
import type { Logger } from '../pkg/logger.js';
import { peerRequest, type PeerTlsOptions } from '../peer/dialer.js';

export const PEER_HASHKV_PATH = '/members/hashkv';

/** The part of a HashKV answer the checks compare. */
export interface HashAt {
  /** the member's current revision when it hashed */
  revision: number;
  hash: number;
  compactRevision: number;
}

export interface PeerRef {
  id: bigint;
  peerUrls: string[];
}

export type PeerHashError = 'compacted' | 'future-rev' | Error;

export interface PeerHash {
  peer: PeerRef;
  hash?: HashAt;
  error?: PeerHashError;
}

/** Asks one peer URL for its hash at `revision` (etcd's getPeerHashKVHTTP). */
export function requestPeerHash(url: string, revision: number, tls: PeerTlsOptions | undefined, timeoutMs: number): Promise<HashAt> {
  const body = JSON.stringify({ revision });
  return new Promise((resolve, reject) => {
    const init = { method: 'GET', timeoutMs, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } };
    const req = peerRequest(url, PEER_HASHKV_PATH, init, tls, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 400 && text.includes('required revision has been compacted')) return reject('compacted');
        if (res.statusCode === 400 && text.includes('required revision is a future revision')) return reject('future-rev');
        if (res.statusCode !== 200) return reject(new Error(`unknown error: ${text}`));
        try {
          resolve(decodeHashAnswer(text));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads etcd's JSON answer; absent fields are zero (Go's omitempty). */
export function decodeHashAnswer(text: string): HashAt {
  const o = JSON.parse(text) as { header?: { revision?: number | string }; hash?: number; compact_revision?: number | string };
  return { revision: Number(o.header?.revision ?? 0), hash: Number(o.hash ?? 0), compactRevision: Number(o.compact_revision ?? 0) };
}

/** The answer body, as etcd's peer handler writes it (zero fields left out). */
export function encodeHashAnswer(h: HashAt): string {
  const o: Record<string, unknown> = {};
  if (h.revision !== 0) o['header'] = { revision: h.revision };
  if (h.hash !== 0) o['hash'] = h.hash;
  if (h.compactRevision !== 0) o['compact_revision'] = h.compactRevision;
  return JSON.stringify(o);
}

/** Reads the request body {"revision":N}; throws on anything else. */
export function decodeHashRequest(text: string): number {
  const o = text.trim() === '' ? {} : (JSON.parse(text) as { revision?: unknown });
  const rev = o.revision ?? 0;
  const n = typeof rev === 'string' ? Number(rev) : rev;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error('revision must be an integer');
  return n;
}

/** Every peer's hash at `revision`, trying each of its URLs until one answers. */
export async function fetchPeerHashes(
  peers: PeerRef[],
  revision: number,
  ask: (url: string, revision: number) => Promise<HashAt>,
  logger: Logger,
  localIdHex: string,
): Promise<PeerHash[]> {
  return Promise.all(
    peers
      .filter((p) => p.peerUrls.length > 0)
      .map(async (peer) => {
        let last: PeerHashError = new Error('no peer URL answered');
        for (const url of peer.peerUrls) {
          try {
            return { peer, hash: await ask(url, revision) };
          } catch (err) {
            last = err === 'compacted' || err === 'future-rev' ? err : err instanceof Error ? err : new Error(String(err));
            logger.warn('failed hash kv request', {
              'local-member-id': localIdHex,
              'requested-revision': revision,
              'remote-peer-endpoint': url,
              error: typeof last === 'string' ? last : last.message,
            });
          }
        }
        return { peer, error: last };
      }),
  );
}

/**
 * etcd's CheckInitialHashKV verdict: the error to stop the member with, or undefined.
 * Peers whose compact revision differs, or that are behind or ahead, cannot be compared.
 */
export function initialVerdict(local: HashAt, peers: PeerHash[], logger: Logger, localIdHex: string): string | undefined {
  let mismatch = 0;
  for (const p of peers) {
    const fields = {
      'local-member-id': localIdHex,
      'local-member-revision': local.revision,
      'local-member-compact-revision': local.compactRevision,
      'local-member-hash': local.hash,
      'remote-peer-id': p.peer.id.toString(16),
      'remote-peer-endpoints': p.peer.peerUrls,
    };
    if (p.hash) {
      if (p.hash.hash === local.hash) continue;
      const remote = { 'remote-peer-revision': p.hash.revision, 'remote-peer-compact-revision': p.hash.compactRevision, 'remote-peer-hash': p.hash.hash };
      if (p.hash.compactRevision === local.compactRevision) {
        logger.warn('found different hash values from remote peer', { ...fields, ...remote });
        mismatch++;
      } else {
        logger.warn('found different compact revision values from remote peer', { ...fields, ...remote });
      }
    } else if (p.error === 'future-rev') {
      logger.warn('cannot fetch hash from slow remote peer', fields);
    } else if (p.error === 'compacted') {
      logger.warn('cannot fetch hash from remote peer; local member is behind', fields);
    }
  }
  if (mismatch > 0) return `${localIdHex} found data inconsistency with peers`;
  logger.info('initial corruption checking passed; no corruption', { 'local-member-id': localIdHex });
  return undefined;
}

/**
 * etcd's checkHashKV rules on the leader: `before` is the leader's hash taken before the
 * peers were asked, `after` once a linearizable read made sure it had applied all that
 * was committed. Returns the number of peers compared and whether anything disagreed.
 */
export function periodicVerdict(before: HashAt, after: HashAt, peers: PeerHash[], logger: Logger): { checked: number; corrupt: boolean } {
  let corrupt = false;
  if (after.hash !== before.hash && after.revision === before.revision && after.compactRevision === before.compactRevision) {
    logger.warn('found hash mismatch', {
      'revision-1': before.revision,
      'compact-revision-1': before.compactRevision,
      'hash-1': before.hash,
      'revision-2': after.revision,
      'compact-revision-2': after.compactRevision,
      'hash-2': after.hash,
    });
    corrupt = true;
  }
  let checked = 0;
  for (const p of peers) {
    if (!p.hash) continue;
    checked++;
    const peerId = p.peer.id.toString(16);
    if (p.hash.revision > after.revision) {
      logger.warn("revision from follower must be less than or equal to leader's", { 'leader-revision': after.revision, 'follower-revision': p.hash.revision, 'follower-peer-id': peerId });
      corrupt = true;
    }
    if (p.hash.compactRevision > after.compactRevision) {
      logger.warn("compact revision from follower must be less than or equal to leader's", {
        'leader-compact-revision': after.compactRevision,
        'follower-compact-revision': p.hash.compactRevision,
        'follower-peer-id': peerId,
      });
      corrupt = true;
    }
    if (p.hash.compactRevision === before.compactRevision && p.hash.hash !== before.hash) {
      logger.warn('same compact revision then hashes must match', {
        'leader-compact-revision': after.compactRevision,
        'leader-hash': before.hash,
        'follower-compact-revision': p.hash.compactRevision,
        'follower-hash': p.hash.hash,
        'follower-peer-id': peerId,
      });
      corrupt = true;
    }
  }
  logger.info('finished peer corruption check', { 'number-of-peers-checked': checked });
  return { checked, corrupt };
}
