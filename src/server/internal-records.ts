// Records only members read: the member record carried in a configuration change's
// context, member attribute publishes, and the WAL metadata. Plain JSON: they are rare,
// small and easy to inspect.
import type { Member } from './membership.js';

/** The context of a ConfChange entry: the member it is about, and who waits for it. */
export interface MemberContext {
  member: Member;
  /** request ID of the proposer, 0 when nobody waits (bootstrap) */
  requestId?: number;
}

export function encodeMemberContext(c: MemberContext): Uint8Array {
  return Buffer.from(JSON.stringify({ member: { ...c.member, id: c.member.id.toString(16) }, requestId: c.requestId ?? 0 }), 'utf8');
}

export function decodeMemberContext(data: Uint8Array): MemberContext {
  const raw = JSON.parse(Buffer.from(data).toString('utf8')) as { member: Omit<Member, 'id'> & { id: string }; requestId?: number };
  return { member: { ...raw.member, id: BigInt('0x' + raw.member.id) }, requestId: raw.requestId ?? 0 };
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
