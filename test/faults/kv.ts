// KV calls for fault tests: every call has a client-side deadline as well as a
// grpc-timeout, so a member that never answers (partitioned, SIGSTOPped) cannot hang a test.
import { UnaryClient } from '../../src/client/unary-client.js';
import {
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVRequest,
  HashKVResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
} from '../../src/proto/etcdserverpb.js';
import { Cluster, eventually, withTimeout, type ClusterMember } from '../e2e/cluster.js';

export class Kv {
  private c: UnaryClient;

  constructor(readonly endpoint: string) {
    this.c = new UnaryClient(endpoint);
  }

  private async call(path: string, req: Uint8Array, timeoutMs: number): Promise<Buffer> {
    return withTimeout(this.c.call(path, req, { timeoutMs }), timeoutMs + 1000);
  }

  async put(key: string, value: string, timeoutMs = 3000): Promise<PutResponse> {
    const req = PutRequest.create({ key: Buffer.from(key), value: Buffer.from(value) });
    return PutResponse.decode(await this.call('/etcdserverpb.KV/Put', PutRequest.encode(req), timeoutMs));
  }

  async get(key: string, opts: { serializable?: boolean; revision?: number; timeoutMs?: number } = {}): Promise<RangeResponse> {
    const req = RangeRequest.create({ key: Buffer.from(key), serializable: opts.serializable ?? false, revision: opts.revision ?? 0 });
    return RangeResponse.decode(await this.call('/etcdserverpb.KV/Range', RangeRequest.encode(req), opts.timeoutMs ?? 3000));
  }

  /** the value of `key` (undefined if absent) */
  async value(key: string, opts: { serializable?: boolean; timeoutMs?: number } = {}): Promise<string | undefined> {
    const r = await this.get(key, opts);
    return r.kvs[0] ? Buffer.from(r.kvs[0].value).toString() : undefined;
  }

  /** every key, serializable (this member's own data) */
  async all(timeoutMs = 5000): Promise<RangeResponse> {
    const req = RangeRequest.create({ key: Buffer.from([0]), range_end: Buffer.from([0]), serializable: true });
    return RangeResponse.decode(await this.call('/etcdserverpb.KV/Range', RangeRequest.encode(req), timeoutMs));
  }

  async del(key: string, timeoutMs = 3000): Promise<DeleteRangeResponse> {
    const req = DeleteRangeRequest.create({ key: Buffer.from(key) });
    return DeleteRangeResponse.decode(await this.call('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(req), timeoutMs));
  }

  async hashKV(revision: number, timeoutMs = 5000): Promise<HashKVResponse> {
    const req = HashKVRequest.create({ revision });
    return HashKVResponse.decode(await this.call('/etcdserverpb.Maintenance/HashKV', HashKVRequest.encode(req), timeoutMs));
  }

  close(): void {
    this.c.close();
  }
}

/**
 * A put retried until it succeeds (up to `timeoutMs`): right after a fault a proposal can
 * be forwarded to a leader that is stepping down, and is then lost and times out, in etcd
 * as here. Only for tests that do not count writes.
 */
export async function putRetry(kv: Kv, key: string, value: string, timeoutMs = 20_000): Promise<PutResponse> {
  return eventually(`put ${key} through ${kv.endpoint}`, timeoutMs, () => kv.put(key, value, 2000));
}

export interface Acked {
  key: string;
  value: string;
  revision: number;
}

/** Serializable revision of a member (its own applied state). */
export async function revisionOf(m: ClusterMember): Promise<number> {
  const kv = new Kv(m.clientUrl);
  try {
    return (await kv.get('\0', { serializable: true, timeoutMs: 2000 })).header!.revision;
  } finally {
    kv.close();
  }
}

/**
 * Waits until every given member has applied at least `revision`, then compares their
 * HashKV at exactly that revision (the hash of all key-value history up to it).
 */
export async function assertSameData(cluster: Cluster, members: ClusterMember[], timeoutMs = 30_000): Promise<{ revision: number; hash: number }> {
  const revisions = await Promise.all(members.map((m) => revisionOf(m)));
  const revision = Math.max(...revisions);
  await Promise.all(
    members.map((m) =>
      eventually(`${m.name} applies revision ${revision}`, timeoutMs, async () => ((await revisionOf(m)) >= revision ? true : undefined)),
    ),
  );
  const hashes = await Promise.all(
    members.map(async (m) => {
      const kv = new Kv(m.clientUrl);
      try {
        return { name: m.name, h: await kv.hashKV(revision) };
      } finally {
        kv.close();
      }
    }),
  );
  const distinct = new Set(hashes.map((x) => x.h.hash));
  if (distinct.size !== 1) {
    // say which keys differ, not just that hashes do
    const dumps = await Promise.all(
      members.map(async (m) => {
        const kv = new Kv(m.clientUrl);
        try {
          const r = await kv.all();
          return new Map(r.kvs.map((k) => [Buffer.from(k.key).toString(), `${Buffer.from(k.value).toString()}@${k.mod_revision}`]));
        } finally {
          kv.close();
        }
      }),
    );
    const diffs: string[] = [];
    const keys = new Set(dumps.flatMap((d) => [...d.keys()]));
    for (const k of keys) {
      const vals = dumps.map((d) => d.get(k) ?? '(absent)');
      if (new Set(vals).size > 1) diffs.push(`${k}: ${vals.map((v, i) => `${members[i]!.name}=${v}`).join(' ')}`);
      if (diffs.length >= 20) break;
    }
    throw new Error(
      `members disagree at revision ${revision}: ${hashes.map((x) => `${x.name}=${x.h.hash}`).join(' ')}\n${diffs.join('\n')}\n${cluster.logs(2000)}`,
    );
  }
  return { revision, hash: hashes[0]!.h.hash };
}

/** Checks that every acknowledged put is on the member at its revision (serializable reads: the member's own data). */
export async function assertAllAcked(m: ClusterMember, acked: Acked[]): Promise<void> {
  const kv = new Kv(m.clientUrl);
  try {
    const all = await kv.all();
    const have = new Map(all.kvs.map((k) => [Buffer.from(k.key).toString(), k]));
    const missing: string[] = [];
    for (const a of acked) {
      const kvp = have.get(a.key);
      if (!kvp || Buffer.from(kvp.value).toString() !== a.value || kvp.mod_revision !== a.revision) {
        missing.push(`${a.key}=${a.value}@${a.revision} (member has ${kvp ? `${Buffer.from(kvp.value).toString()}@${kvp.mod_revision}` : 'nothing'})`);
      }
    }
    if (missing.length > 0) {
      throw new Error(`${m.name} lost ${missing.length} of ${acked.length} acknowledged writes, e.g.:\n${missing.slice(0, 10).join('\n')}`);
    }
  } finally {
    kv.close();
  }
}

/**
 * Writers that put unique keys (`<prefix>/w<writer>/<n>`) in a loop against the given
 * members (writer i uses members[i % n]) until stopped; acknowledged writes are recorded.
 */
export function startWriters(members: () => ClusterMember[], count: number, prefix: string): { acked: Acked[]; errors: string[]; stop: () => Promise<void> } {
  const acked: Acked[] = [];
  const errors: string[] = [];
  let running = true;
  const loops = Array.from({ length: count }, async (_, w) => {
    let kv: Kv | undefined;
    let endpoint = '';
    for (let n = 0; running; n++) {
      const targets = members();
      const target = targets[w % Math.max(1, targets.length)];
      if (!target) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (target.clientUrl !== endpoint) {
        kv?.close();
        kv = new Kv(target.clientUrl);
        endpoint = target.clientUrl;
      }
      const key = `${prefix}/w${w}/${n}`;
      const value = `v${w}-${n}`;
      try {
        const r = await kv!.put(key, value, 2000);
        acked.push({ key, value, revision: r.header!.revision });
      } catch (err) {
        errors.push((err as Error).message);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    kv?.close();
  });
  return {
    acked,
    errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
