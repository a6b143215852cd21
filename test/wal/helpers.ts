// Shared helpers for the WAL tests: temp dirs, entries, file hashes, raw record walking.

import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { crc32 } from 'node:zlib';
import type { Entry } from '../../src/raft/types.js';
export { entry, entries } from './data.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** a fresh temp dir, removed when the test file finishes */
export function tempDir(prefix = 'tsetcd-wal-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** compact view of a log for assertions: "index:term" */
export function shape(es: readonly Entry[]): string[] {
  return es.map((e) => `${e.index}:${e.term}`);
}

export function assertSameData(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.type === b.type && Buffer.from(a.data).equals(Buffer.from(b.data));
}

/** sha256 of every file in `dir`, by name */
export function hashDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isFile()) out[n] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

export function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(n))
    .sort();
}

export function lastSegment(dir: string): string {
  const s = segmentFiles(dir);
  return join(dir, s[s.length - 1]!);
}

export function copyDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

export interface RecordSpan {
  offset: number;
  end: number;
  kind: number;
  flags: number;
}

/** Walks the record frames of a segment (trusting lengths; for well-formed test files only). */
export function recordSpans(buf: Buffer): RecordSpan[] {
  const out: RecordSpan[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off + 4);
    const end = off + 16 + len + ((8 - (len & 7)) & 7);
    out.push({ offset: off, end, kind: buf[off + 8]!, flags: buf[off + 9]! });
    off = end;
  }
  return out;
}

/** recomputes the CRC of the record at `off` after a test edited it on purpose */
export function resealRecord(buf: Buffer, off: number): void {
  const len = buf.readUInt32LE(off + 4);
  const end = off + 16 + len + ((8 - (len & 7)) & 7);
  buf.writeUInt32LE(crc32(buf.subarray(off + 4, end)), off);
}
