// The cluster's members as the applied log says they are: IDs and peer URLs come from
// configuration changes, names and client URLs from each member's publish entry.
import type { Backend } from '../backend/backend.js';

export interface Member {
  id: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

interface StoredMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

const CLUSTER_ID_KEY = Buffer.from('clusterID');

function memberKey(id: bigint): Buffer {
  return Buffer.from(id.toString(16).padStart(16, '0'));
}

export class Membership {
  private members = new Map<bigint, Member>();
  private removed = new Set<bigint>();
  clusterId = 0n;

  constructor(private readonly backend: Backend) {}

  load(): void {
    this.members.clear();
    for (const { value } of this.backend.range('members')) {
      const s = JSON.parse(value.toString('utf8')) as StoredMember;
      this.members.set(BigInt('0x' + s.id), { ...s, id: BigInt('0x' + s.id) });
    }
    for (const { key } of this.backend.range('members_removed')) this.removed.add(BigInt('0x' + key.toString()));
    const cid = this.backend.get('cluster', CLUSTER_ID_KEY);
    if (cid) this.clusterId = cid.readBigUInt64BE(0);
  }

  setClusterId(id: bigint): void {
    this.clusterId = id;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(id);
    this.backend.put('cluster', CLUSTER_ID_KEY, b);
  }

  /** Must run inside a backend write transaction. */
  add(m: Member): void {
    this.members.set(m.id, { ...m });
    this.persist(m.id);
  }

  remove(id: bigint): void {
    this.members.delete(id);
    this.removed.add(id);
    this.backend.delete('members', memberKey(id));
    this.backend.put('members_removed', memberKey(id), Buffer.from([1]));
  }

  setAttributes(id: bigint, name: string, clientURLs: string[]): void {
    const m = this.members.get(id);
    if (!m) return; // a publish from a member removed since: ignore, as etcd does
    m.name = name;
    m.clientURLs = [...clientURLs];
    this.persist(id);
  }

  /** A learner becomes a voter. */
  promote(id: bigint): void {
    const m = this.members.get(id);
    if (!m) return;
    m.isLearner = false;
    this.persist(id);
  }

  updatePeerURLs(id: bigint, peerURLs: string[]): void {
    const m = this.members.get(id);
    if (!m) return;
    m.peerURLs = [...peerURLs];
    this.persist(id);
  }

  /** A member has started once it published its name (etcd's IsStarted). */
  isStarted(id: bigint): boolean {
    return (this.members.get(id)?.name ?? '') !== '';
  }

  get(id: bigint): Member | undefined {
    return this.members.get(id);
  }

  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  /** Members ordered by ID, as etcd lists them. */
  list(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private persist(id: bigint): void {
    const m = this.members.get(id)!;
    const stored: StoredMember = { ...m, id: id.toString(16) };
    this.backend.put('members', memberKey(id), Buffer.from(JSON.stringify(stored)));
  }
}
