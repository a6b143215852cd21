// Shared by the pki tests: run `tsetcdutl pki` in-process or as the real binary, call
// cfssl/openssl/etcd, find the tutorial fixtures, and pick free ports.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkiMain } from '../../src/cli/utl/pki.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** the repository root, from either test/pki or dist/test/pki */
export const ROOT = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '../../..') : path.resolve(here, '../..');
export const FIXTURES = path.join(ROOT, 'test/pki/fixtures');
export const TSETCDUTL = path.join(ROOT, 'bin/tsetcdutl');

export function fixture(tutorial: string, file: string): string {
  return path.join(FIXTURES, tutorial, file);
}

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `tsetcdutl pki ARGS` in this process. */
export async function pki(args: string[], stdin = ''): Promise<RunResult> {
  let out = '';
  let err = '';
  const code = await pkiMain(args, {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readStdin: async () => Buffer.from(stdin),
  });
  return { code, out, err };
}

/** Runs `tsetcdutl pki ARGS`, throwing with its stderr unless it succeeds; returns stdout. */
export async function pkiOk(args: string[], stdin = ''): Promise<string> {
  const r = await pki(args, stdin);
  if (r.code !== 0) throw new Error(`tsetcdutl pki ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

/** Runs a shell command line in `cwd`. */
export function sh(cmd: string, cwd: string, input?: string): SpawnSyncReturns<string> {
  return spawnSync('/bin/sh', ['-c', cmd], { cwd, encoding: 'utf8', ...(input !== undefined ? { input } : {}), timeout: 60_000 });
}

export function run(bin: string, args: string[], cwd: string, input?: string): SpawnSyncReturns<string> {
  return spawnSync(bin, args, { cwd, encoding: 'utf8', ...(input !== undefined ? { input } : {}), timeout: 60_000 });
}

export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, bin);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** `openssl x509 -text` of a certificate file. */
export function opensslText(file: string): string {
  const r = run('openssl', ['x509', '-in', file, '-noout', '-text'], path.dirname(file));
  if (r.status !== 0) throw new Error(`openssl x509 failed: ${r.stderr}`);
  return r.stdout;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
