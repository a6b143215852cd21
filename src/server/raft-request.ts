// The payload of a normal raft entry: etcd's InternalRaftRequest with a header (the
// request ID the proposer waits on, the user and the auth revision) and exactly one
// request field. The request travels as the bytes the client sent, unchanged, so a
// proposal costs no re-encoding.

import { AuthField } from '../auth/fields.js';

/** InternalRaftRequest field numbers (etcd's), plus the member-attribute one etcd 3.5 uses. */
export const RaftRequestField = {
  range: 3,
  put: 4,
  deleteRange: 5,
  txn: 6,
  compaction: 7,
  leaseGrant: 8,
  leaseRevoke: 9,
  alarm: 10,
  leaseCheckpoint: 11,
  // the auth module owns its field numbers
  ...AuthField,
  clusterMemberAttrSet: 1301,
} as const;
export type RaftRequestField = (typeof RaftRequestField)[keyof typeof RaftRequestField];

const HEADER_FIELD = 100;

export interface RaftRequestHeader {
  id: number;
  username: string;
  authRevision: number;
}

export interface DecodedRaftRequest {
  header: RaftRequestHeader;
  field: number;
  body: Uint8Array;
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

function readVarint(buf: Uint8Array, at: { pos: number }): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at.pos >= buf.length) throw new Error('raft request: truncated varint');
    const b = buf[at.pos++]!;
    result += (b & 127) * mul;
    if (b < 128) return result;
    mul *= 128;
  }
  throw new Error('raft request: varint too long');
}

export function encodeRaftRequest(header: RaftRequestHeader, field: number, body: Uint8Array): Buffer {
  const user = Buffer.from(header.username, 'utf8');
  let headerSize = 0;
  if (header.id !== 0) headerSize += 1 + varintSize(header.id);
  if (user.length > 0) headerSize += 1 + varintSize(user.length) + user.length;
  if (header.authRevision !== 0) headerSize += 1 + varintSize(header.authRevision);
  const headerTag = HEADER_FIELD * 8 + 2;
  const bodyTag = field * 8 + 2;
  const size =
    varintSize(headerTag) + varintSize(headerSize) + headerSize + varintSize(bodyTag) + varintSize(body.length) + body.length;
  const out = Buffer.allocUnsafe(size);
  let pos = writeVarint(out, 0, headerTag);
  pos = writeVarint(out, pos, headerSize);
  if (header.id !== 0) {
    out[pos++] = 0x08;
    pos = writeVarint(out, pos, header.id);
  }
  if (user.length > 0) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, user.length);
    pos += user.copy(out, pos);
  }
  if (header.authRevision !== 0) {
    out[pos++] = 0x18;
    pos = writeVarint(out, pos, header.authRevision);
  }
  pos = writeVarint(out, pos, bodyTag);
  pos = writeVarint(out, pos, body.length);
  out.set(body, pos);
  return out;
}

export function decodeRaftRequest(data: Uint8Array): DecodedRaftRequest {
  const at = { pos: 0 };
  const header: RaftRequestHeader = { id: 0, username: '', authRevision: 0 };
  let field = 0;
  let body: Uint8Array = new Uint8Array(0);
  while (at.pos < data.length) {
    const tag = readVarint(data, at);
    const fieldNo = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === 0) {
      const v = readVarint(data, at);
      if (fieldNo === 1 && header.id === 0) header.id = v; // etcd's legacy top-level ID
      continue;
    }
    if (wireType !== 2) throw new Error(`raft request: unexpected wire type ${wireType}`);
    const len = readVarint(data, at);
    const end = at.pos + len;
    if (end > data.length) throw new Error('raft request: truncated field');
    const bytes = data.subarray(at.pos, end);
    at.pos = end;
    if (fieldNo === HEADER_FIELD) decodeHeader(bytes, header);
    else {
      field = fieldNo;
      body = bytes;
    }
  }
  return { header, field, body };
}

function decodeHeader(bytes: Uint8Array, header: RaftRequestHeader): void {
  const at = { pos: 0 };
  while (at.pos < bytes.length) {
    const tag = readVarint(bytes, at);
    const fieldNo = Math.floor(tag / 8);
    if (tag % 8 === 0) {
      const v = readVarint(bytes, at);
      if (fieldNo === 1) header.id = v;
      else if (fieldNo === 3) header.authRevision = v;
      continue;
    }
    const len = readVarint(bytes, at);
    if (fieldNo === 2) header.username = Buffer.from(bytes.subarray(at.pos, at.pos + len)).toString('utf8');
    at.pos += len;
  }
}
