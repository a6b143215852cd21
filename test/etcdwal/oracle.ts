// The Go oracle for the etcd WAL tests: test/etcdwal/go/waltool, built from etcd 3.4's own
// wal package (GOPATH sources, offline), writes WALs with etcd's code and reads them with
// etcd's ReadAll. Built once per source version into the OS temp dir.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EtcdWalContents } from '../../src/etcdwal/reader.js';
import { REPO_ROOT } from '../e2e/harness.js';

const GOPATH = '/usr/share/gocode';
const SOURCE_DIR = path.join(REPO_ROOT, 'test/etcdwal/go/waltool');

let built: string | null | undefined;
let whyNot = '';

/** The waltool binary, or null (see skipReason) when Go or etcd's sources are missing. */
export function waltool(): string | null {
  if (built !== undefined) return built;
  built = build();
  return built;
}

export function skipReason(): string {
  waltool();
  return whyNot;
}

function build(): string | null {
  if (!fs.existsSync(path.join(GOPATH, 'src/go.etcd.io/etcd/wal/wal.go'))) {
    whyNot = `etcd 3.4 sources not under ${GOPATH}`;
    return null;
  }
  const source = fs.readFileSync(path.join(SOURCE_DIR, 'main.go'));
  const bin = path.join(os.tmpdir(), `tsetcd-waltool-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-o', tmp, '.'], {
    cwd: SOURCE_DIR,
    env: { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.error || r.status !== 0) {
    whyNot = `cannot build waltool: ${r.error?.message ?? r.stderr}`;
    return null;
  }
  fs.renameSync(tmp, bin);
  return bin;
}

export interface PlanEntry {
  index: number;
  term: number;
  type?: number;
  /** hex */
  data: string;
}

export type PlanOp = { entries: PlanEntry[]; hardState?: { term: number; vote: string; commit: number } } | { snapshot: { index: number; term: number } };

export interface Plan {
  nodeId: string;
  clusterId: string;
  ops: PlanOp[];
}

/** Writes `plan` into the new WAL directory `dir` with etcd's wal package, cutting segments at `segmentBytes`. */
export function writeWithEtcd(dir: string, segmentBytes: number, plan: Plan): void {
  const r = spawnSync(waltool()!, ['write', dir, String(segmentBytes)], { input: JSON.stringify(plan), encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`waltool write failed: ${r.error?.message ?? r.stderr}`);
}

export interface EtcdRead {
  /** etcd's error text, '' when ReadAll succeeded */
  error: string;
  nodeId: string;
  clusterId: string;
  hardState: { term: number; vote: string; commit: number };
  entries: Required<PlanEntry>[];
}

/** etcd's OpenForRead(dir, {index, term}) + ReadAll; with `digest`, entry data is its SHA-256 (hex). */
export function readWithEtcd(dir: string, index: number, term: number, digest = false): EtcdRead {
  const r = spawnSync(waltool()!, ['read', dir, String(index), String(term), ...(digest ? ['digest'] : [])], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`waltool read failed: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as EtcdRead;
}

/** The consistent index an etcd db file holds (meta/consistent_index; 0 when absent). */
export function consistentIndexOf(dbFile: string): number {
  const r = spawnSync(waltool()!, ['ci', dbFile], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`waltool ci failed: ${r.error?.message ?? r.stderr}`);
  return Number(r.stdout.trim());
}

/** Our reading in the oracle's shape, for deepEqual against readWithEtcd (same `digest` choice). */
export function comparable(r: EtcdWalContents, digest = false): Omit<EtcdRead, 'error'> {
  const data = (d: Uint8Array) => (digest ? createHash('sha256').update(d).digest('hex') : Buffer.from(d).toString('hex'));
  return {
    nodeId: r.metadata.nodeId.toString(),
    clusterId: r.metadata.clusterId.toString(),
    hardState: { term: r.hardState.term, vote: r.hardState.vote.toString(), commit: r.hardState.commit },
    entries: r.entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: data(e.data) })),
  };
}

/** The oracle's reading without its error text. */
export function withoutError(r: EtcdRead): Omit<EtcdRead, 'error'> {
  const { error: _error, ...rest } = r;
  return rest;
}

/** Frame start offsets of a segment, walked from the length words (stops at a zero word). */
export function frameOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const lo = buf.readUInt32LE(off);
    const hi = buf.readUInt32LE(off + 4);
    if (lo === 0 && hi === 0) break;
    out.push(off);
    off += 8 + lo + (hi & 0x80000000 ? (hi >>> 24) & 7 : 0);
  }
  return out;
}
