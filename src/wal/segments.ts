// Segment file names and the listing of a WAL directory.

import { readdir, stat } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, describe } from './errors.js';

export const SEGMENT_SUFFIX = '.wal';
/** a segment being cut is written under its final name plus this suffix, then renamed */
export const TEMP_SUFFIX = '.tmp';
export const LOCK_FILE = 'wal.lock';

export interface SegmentName {
  name: string;
  seq: number;
  /** index of the first entry the segment may hold (the log's last index + 1 when it was cut) */
  firstIndex: number;
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}${SEGMENT_SUFFIX}`;
}

export function hex16(v: number): string {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`wal: ${v} is not a non-negative safe integer`);
  return v.toString(16).padStart(16, '0');
}

export function parseSegmentName(name: string): SegmentName | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  const seq = parseInt(m[1]!, 16);
  const firstIndex = parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return null;
  return { name, seq, firstIndex };
}

/** true if `dir` holds at least one segment file */
export function segmentsExist(dir: string): boolean {
  try {
    return readdirSync(dir).some((n) => parseSegmentName(n) !== null);
  } catch {
    return false;
  }
}

/**
 * Lists the segments of `dir`, sorted by sequence number. Throws a plain Error naming the path
 * when the directory is missing, not a directory, unreadable, or holds no segment.
 */
export async function listSegments(dir: string): Promise<{ segments: SegmentName[]; temps: string[] }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new Error(`wal: directory ${dir} does not exist`, { cause: err });
    if (code === 'ENOTDIR') throw new Error(`wal: ${dir} is not a directory`, { cause: err });
    throw new Error(`wal: cannot list directory ${dir}: ${describe(err)}`, { cause: err });
  }
  const segments: SegmentName[] = [];
  const temps: string[] = [];
  for (const n of names) {
    const s = parseSegmentName(n);
    if (s !== null) segments.push(s);
    else if (n.endsWith(SEGMENT_SUFFIX + TEMP_SUFFIX)) temps.push(n);
  }
  if (segments.length === 0) throw new Error(`wal: no segment files (*.wal) in ${dir}`);
  segments.sort((a, b) => a.seq - b.seq);
  return { segments, temps };
}

/** Is `path` a directory that is empty or missing? (create() refuses anything else) */
export async function isMissingOrEmptyDir(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    if (!st.isDirectory()) return false;
    return (await readdir(path)).length === 0;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return true;
    throw err;
  }
}

export function segmentPath(dir: string, s: SegmentName): string {
  return join(dir, s.name);
}
