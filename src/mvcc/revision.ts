// A revision names one change: `main` is the store revision of the transaction, `sub`
// the change's position inside it. In the backend the key bucket is keyed by the
// revision's bytes (8-byte big-endian main, '_', 8-byte big-endian sub), so a scan in
// key order is a scan in revision order; a trailing 't' marks a tombstone (a delete).

export interface Revision {
  readonly main: number;
  readonly sub: number;
}

export const REV_BYTES = 17;
export const MARKED_REV_BYTES = 18;
const TOMBSTONE_MARK = 0x74; // 't'

export function compareRev(a: Revision, b: Revision): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

export function revToBytes(main: number, sub: number, tombstone = false): Buffer {
  const b = Buffer.allocUnsafe(tombstone ? MARKED_REV_BYTES : REV_BYTES);
  b.writeBigUInt64BE(BigInt(main), 0);
  b[8] = 0x5f; // '_'
  b.writeBigUInt64BE(BigInt(sub), 9);
  if (tombstone) b[17] = TOMBSTONE_MARK;
  return b;
}

export function bytesToRev(b: Uint8Array): Revision {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return { main: Number(buf.readBigUInt64BE(0)), sub: Number(buf.readBigUInt64BE(9)) };
}

export function isTombstoneBytes(b: Uint8Array): boolean {
  return b.length === MARKED_REV_BYTES && b[17] === TOMBSTONE_MARK;
}
