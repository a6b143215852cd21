// Records only members read: configuration changes (entries of type ConfChange) and
// member attribute publishes. Plain JSON: they are rare, small and easy to inspect.
import type { Member } from './membership.js';

export interface ConfChangeRecord {
  op: 'add' | 'remove' | 'update' | 'promote';
  member: Member;
}

export function encodeConfChange(cc: ConfChangeRecord): Buffer {
  return Buffer.from(
    JSON.stringify({ op: cc.op, member: { ...cc.member, id: cc.member.id.toString(16) } }),
    'utf8',
  );
}

export function decodeConfChange(data: Uint8Array): ConfChangeRecord {
  const raw = JSON.parse(Buffer.from(data).toString('utf8')) as { op: ConfChangeRecord['op']; member: Omit<Member, 'id'> & { id: string } };
  return { op: raw.op, member: { ...raw.member, id: BigInt('0x' + raw.member.id) } };
}

export interface MemberAttributes {
  memberId: bigint;
  name: string;
  clientURLs: string[];
}

export function encodeMemberAttributes(a: MemberAttributes): Buffer {
  return Buffer.from(JSON.stringify({ memberId: a.memberId.toString(16), name: a.name, clientURLs: a.clientURLs }), 'utf8');
}

export function decodeMemberAttributes(data: Uint8Array): MemberAttributes {
  const raw = JSON.parse(Buffer.from(data).toString('utf8')) as { memberId: string; name: string; clientURLs: string[] };
  return { memberId: BigInt('0x' + raw.memberId), name: raw.name, clientURLs: raw.clientURLs };
}

/** WAL metadata: who this member is and which cluster it belongs to. */
export function encodeWalMetadata(memberId: bigint, clusterId: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(memberId, 0);
  b.writeBigUInt64BE(clusterId, 8);
  return b;
}

export function decodeWalMetadata(data: Uint8Array): { memberId: bigint; clusterId: bigint } {
  if (data.length !== 16) throw new Error(`wal metadata has ${data.length} bytes, expected 16`);
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { memberId: b.readBigUInt64BE(0), clusterId: b.readBigUInt64BE(8) };
}
