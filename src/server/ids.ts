// Member and cluster IDs are derived exactly as etcd derives them, so a cluster
// bootstrapped with the same flags gets the same IDs (the single default member is
// 8e9e05c52164694d, as every etcd user has seen).
import { createHash } from 'node:crypto';

export function memberIdFor(peerUrls: string[], clusterToken: string, addedAtSec?: number): bigint {
  const sorted = [...peerUrls].sort();
  let text = sorted.join('') + clusterToken;
  if (addedAtSec !== undefined) text += String(addedAtSec);
  return first8BytesOfSha1(Buffer.from(text, 'utf8'));
}

export function clusterIdFor(memberIds: bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i));
  return first8BytesOfSha1(b);
}

function first8BytesOfSha1(data: Buffer): bigint {
  return createHash('sha1').update(data).digest().readBigUInt64BE(0);
}

export function idToHex(id: bigint): string {
  return id.toString(16);
}

/**
 * Request IDs only need to be unique among the proposals a member is waiting on, and
 * distinct from other members' (entries from other members must not wake our waiters).
 * Layout as etcd's: member bits on top, a start time and a counter below; kept within
 * 53 bits so it stays a plain number.
 */
export class RequestIdGenerator {
  private readonly prefix: number;
  private counter: number;

  constructor(memberId: bigint, nowMs: number) {
    // 15 member bits + 37 counter bits: the sum stays below 2^53, so no precision is lost
    this.prefix = Number(memberId & 0x7fffn) * 2 ** 37;
    this.counter = (nowMs * 256) % 2 ** 37;
  }

  next(): number {
    this.counter = (this.counter + 1) % 2 ** 37;
    return this.prefix + this.counter;
  }
}
