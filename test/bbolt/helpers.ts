// Shared by the bbolt tests: the Go oracle (real go.etcd.io/bbolt, built once per test
// process from test/bbolt/go/bbolttool in GOPATH mode), bucket builders, and the entry
// digest both sides compute.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BboltBucket } from '../../src/bbolt/writer.js';
import { tempDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** the repo's test/bbolt (the compiled test runs from dist/test/bbolt) */
const sourceDir = path.resolve(here, '../../../test/bbolt');

export type Entries = [Buffer, Buffer][];

export interface GoBucket {
  name: string;
  count: number;
  sha256: string;
  entries?: [string, string][];
  nested: string[];
}

export interface GoCheck {
  errors: string[];
  pageSize: number;
  size: number;
  txid: number;
  freePages: number;
  buckets: GoBucket[];
}

let tool: { path: string } | { skip: string } | undefined;

/** Path of the built oracle, or the reason it cannot be built (then Go tests skip). */
export function goTool(): { path: string } | { skip: string } {
  if (tool !== undefined) return tool;
  const probe = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return (tool = { skip: 'go is not installed (needed for the bbolt oracle)' });
  if (!fs.existsSync('/usr/share/gocode/src/go.etcd.io/bbolt')) return (tool = { skip: "Debian's golang-etcd-bbolt sources are missing in /usr/share/gocode" });
  const { dir } = tempDir('tsetcd-bbolttool-');
  const out = path.join(dir, 'bbolttool');
  const r = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: path.join(sourceDir, 'go/bbolttool'),
    encoding: 'utf8',
    env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '', ...goCacheEnv() },
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`building the bbolt oracle failed: ${r.stderr || r.error}`);
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return (tool = { path: out });
}

/** go refuses to build without a cache dir; give it one when the environment has no home */
function goCacheEnv(): Record<string, string> {
  if (process.env.GOCACHE || process.env.HOME || process.env.XDG_CACHE_HOME) return {};
  return { GOCACHE: path.join(os.tmpdir(), 'tsetcd-go-cache') };
}

/** Skip reason for node:test's `skip` option, printed once. */
export function goSkip(): string | false {
  const t = goTool();
  if ('skip' in t) {
    console.log(`# skipping Go oracle tests: ${t.skip}`);
    return t.skip;
  }
  return false;
}

function toolPath(): string {
  const t = goTool();
  if ('skip' in t) throw new Error(t.skip);
  return t.path;
}

/** Real bbolt's view of a file: tx.Check() errors, sizes, buckets (entries with dump). */
export function goCheck(file: string, dump = true): GoCheck {
  const r = spawnSync(toolPath(), dump ? ['check', '-dump', file] : ['check', file], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`bbolttool check ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as GoCheck;
}

export type GoOp =
  | { op: 'create' | 'deleteBucket'; bucket: string }
  | { op: 'put'; bucket: string; key: string; value?: string; fillLen?: number; fillByte?: number }
  | { op: 'del'; bucket: string; key: string }
  | { op: 'createNested'; bucket: string; nested: string }
  | { op: 'putNested'; bucket: string; nested: string; key: string; value: string };

/** Writes `file` with real bbolt: each element of `txs` is one committed transaction. */
export function goMake(file: string, txs: GoOp[][], opts: { pageSize?: number; noFreelistSync?: boolean; fillPercent?: number } = {}): void {
  const spec = JSON.stringify({ pageSize: opts.pageSize ?? 4096, noFreelistSync: opts.noFreelistSync ?? false, fillPercent: opts.fillPercent ?? 0, txs });
  const r = spawnSync(toolPath(), ['make', file], { input: spec, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`bbolttool make: ${r.stderr}`);
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** SHA-256 over u32be(len k) k u32be(len v) v for each entry, as bbolttool computes it */
export function entryDigest(entries: Iterable<readonly [Uint8Array, Uint8Array]>): { count: number; sha256: string } {
  const h = crypto.createHash('sha256');
  const n = Buffer.alloc(4);
  let count = 0;
  for (const [k, v] of entries) {
    n.writeUInt32BE(k.length);
    h.update(n);
    h.update(k);
    n.writeUInt32BE(v.length);
    h.update(n);
    h.update(v);
    count++;
  }
  return { count, sha256: h.digest('hex') };
}

/** A bucket over an in-memory list (sorted here, duplicates dropped: last one wins). */
export function bucketOf(name: string | Buffer, entries: Entries): BboltBucket & { sorted: Entries } {
  const byKey = new Map<string, [Buffer, Buffer]>();
  for (const e of entries) byKey.set(e[0].toString('hex'), e);
  const sorted = [...byKey.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
  return { name: typeof name === 'string' ? Buffer.from(name) : name, sorted, entries: () => sorted };
}

/** A bucket of `n` generated entries: 8-byte big-endian keys, values of `valueBytes(i)` bytes. */
export function generatedBucket(name: string, n: number, valueBytes: (i: number) => number): BboltBucket {
  return {
    name: Buffer.from(name),
    *entries() {
      for (let i = 0; i < n; i++) {
        const k = Buffer.alloc(8);
        k.writeUInt32BE(Math.floor(i / 2 ** 32), 0);
        k.writeUInt32BE(i % 2 ** 32, 4);
        yield [k, Buffer.alloc(valueBytes(i), i % 251)] as const;
      }
    },
  };
}
