// Lease keep-alives and time-to-live queries need the leader's lease clocks; a follower
// forwards them over the peer port (etcd's /leases and /leases/internal endpoints),
// with protobuf bodies.
import http from 'node:http';
import https from 'node:https';
import { LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse } from '../proto/etcdserverpb.js';
import { PeerHttpsAgent, type PeerTlsOptions } from './dialer.js';

export const LEASE_RENEW_PATH = '/leases';
export const LEASE_TTL_PATH = '/leases/internal';
export const MEMBER_PROMOTE_PATH = '/members/promote/';

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 16 }), https: new PeerHttpsAgent({ keepAlive: true, maxSockets: 16 }) };

function post(url: string, path: string, body: Uint8Array, tls: PeerTlsOptions | undefined, timeoutMs: number): Promise<Buffer> {
  const u = new URL(path, url);
  const secure = u.protocol === 'https:';
  const lib = secure ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        timeout: timeoutMs,
        headers: { 'Content-Type': 'application/protobuf', 'Content-Length': body.length },
        ...(secure && tls ? { cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: tls.verify } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          if (res.statusCode === 200) resolve(buf);
          else if (res.statusCode === 404) reject(new LeaseNotFoundError());
          else reject(new Error(`${u.href}: HTTP ${res.statusCode} ${buf.toString('utf8').trim()}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${u.href}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export class LeaseNotFoundError extends Error {
  constructor() {
    super('lease not found');
  }
}

/** Renews a lease on the leader; returns the TTL (0: no such lease). */
export async function forwardRenew(leaderUrls: string[], id: bigint, tls: PeerTlsOptions | undefined, timeoutMs: number): Promise<number> {
  let last: unknown;
  for (const url of leaderUrls) {
    try {
      const resp = await post(url, LEASE_RENEW_PATH, LeaseKeepAliveRequest.encode(LeaseKeepAliveRequest.create({ ID: id })), tls, timeoutMs);
      return LeaseKeepAliveResponse.decode(resp).TTL;
    } catch (err) {
      if (err instanceof LeaseNotFoundError) return 0;
      last = err;
    }
  }
  throw last ?? new Error('the leader has no peer URLs');
}

export async function forwardTimeToLive(
  leaderUrls: string[],
  req: LeaseTimeToLiveRequest,
  tls: PeerTlsOptions | undefined,
  timeoutMs: number,
): Promise<LeaseTimeToLiveResponse> {
  let last: unknown;
  for (const url of leaderUrls) {
    try {
      return LeaseTimeToLiveResponse.decode(await post(url, LEASE_TTL_PATH, LeaseTimeToLiveRequest.encode(req), tls, timeoutMs));
    } catch (err) {
      last = err;
    }
  }
  throw last ?? new Error('the leader has no peer URLs');
}

/**
 * Asks the leader to promote a learner (only it can tell whether the learner caught up).
 * The leader answers 200 with the member list, or an error status and etcd's message.
 */
export async function forwardPromote(leaderUrls: string[], id: bigint, tls: PeerTlsOptions | undefined, timeoutMs: number): Promise<void> {
  let last: unknown;
  for (const url of leaderUrls) {
    try {
      await post(url, MEMBER_PROMOTE_PATH + id.toString(16), new Uint8Array(0), tls, timeoutMs);
      return;
    } catch (err) {
      last = err;
      const m = /HTTP (\d+) (etcdserver: .*)$/.exec((err as Error).message);
      if (m) throw new PromoteRefusedError(m[2]!);
    }
  }
  throw last ?? new Error('the leader has no peer URLs');
}

export class PromoteRefusedError extends Error {}
