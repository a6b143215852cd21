// Small helpers shared inside raft/.
import type { Entry } from './types.js';

/** Upper bound of an entry's framing in encodeMessage (type, term, index, length). */
export const ENTRY_OVERHEAD_BYTES = 24;

/** Size an entry counts for in message and Ready size limits. */
export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Size an entry counts for in the uncommitted-tail limit: its payload only. */
export function payloadSizeBytes(e: Entry): number {
  return e.data.byteLength;
}

/**
 * The longest prefix of `ents` whose total size stays within maxBytes, but always at
 * least one entry, so that an oversized entry still makes progress.
 */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySizeBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySizeBytes(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedIds(ids: Iterable<bigint>): bigint[] {
  return [...ids].sort(compareIds);
}

/** A Map key for a byte string (ReadIndex contexts). */
export function bytesKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
