// tsetcdutl: version, defrag's errors, and an offline defrag of a stopped tsetcd
// member's data directory (keys written with tsetcdctl survive it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, cleanEnv, run, startMember } from './helpers.js';

const ctl = (endpoint: string, ...args: string[]) => run(BIN.tsetcdctl, [`--endpoints=${endpoint}`, ...args]);

test('tsetcdutl version prints its version and the API version', async () => {
  const r = await run(BIN.tsetcdutl, ['version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.toString(), /^tsetcdutl version: \d+\.\d+\.\d+\nAPI version: 3\.5\n$/);
});

test('defrag without --data-dir is a usage error', async () => {
  const r = await run(BIN.tsetcdutl, ['defrag']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.length, 0);
  assert.match(r.stderr, /^Error: required flag\(s\) "data-dir" not set\nUsage:\n  tsetcdutl defrag \[flags\]\n/);
  assert.match(r.stderr, /\nError: required flag\(s\) "data-dir" not set\n$/);
});

test('defrag of a directory without a backend says which file is missing', async () => {
  const { dir, cleanup } = tempDir('tsetcdutl-');
  try {
    const r = await run(BIN.tsetcdutl, ['defrag', '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    const db = path.join(dir, 'member', 'snap', 'db');
    assert.equal(r.stderr, `Error: Failed to defragment etcd data[${dir}] (stat ${db}: no such file or directory)\n`);
  } finally {
    cleanup();
  }
});

test('an unknown tsetcdutl command is reported as cobra does', async () => {
  const r = await run(BIN.tsetcdutl, ['defarg']);
  assert.equal(r.code, 1);
  const msg = 'unknown command "defarg" for "tsetcdutl"\n\nDid you mean this?\n\tdefrag\n';
  assert.equal(r.stderr, `Error: ${msg}\nRun 'tsetcdutl --help' for usage.\nError: ${msg}\n`);
});

/** Starts `tsetcdutl defrag` and resolves once it has printed `text` on stderr (or exited). */
function defragInBackground(dataDir: string) {
  const proc = spawn(BIN.tsetcdutl, ['defrag', `--data-dir=${dataDir}`], { env: cleanEnv() });
  let stderr = '';
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  const printed = (text: string, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (stderr.includes(text) || proc.exitCode !== null || Date.now() - started > timeoutMs) {
          clearInterval(poll);
          resolve(stderr.includes(text));
        }
      }, 20);
    });
  return { done, printed };
}

test(
  'defrag of a stopped member keeps its keys; while the member runs, defrag waits for it',
  async () => {
    const { dir, cleanup } = tempDir('tsetcdutl-defrag-');
    const dataDir = path.join(dir, 'member0');
    let member = await startMember(BIN.tsetcd, dataDir);
    try {
      for (let i = 0; i < 40; i++) assert.equal((await ctl(member.endpoint, 'put', `key${i}`, `value${i}`)).code, 0);
      assert.equal((await ctl(member.endpoint, 'del', 'key1', 'key3')).stdout.toString(), '22\n');
      assert.equal((await ctl(member.endpoint, 'compaction', '30')).code, 0);

      // the running member holds the data dir: defrag says it waits, and does nothing yet
      const defrag = defragInBackground(dataDir);
      assert.ok(await defrag.printed('waiting for etcd to close and release its lock on', 5000), 'defrag did not wait for the member');
      await member.stop();
      const r = await defrag.done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /\tinfo\t.*\tdefragmenting\t\{"path": ".*member\/snap\/db"/);
      assert.match(r.stderr, /\tinfo\t.*\tfinished defragmenting directory\t\{/);
      assert.ok(fs.existsSync(path.join(dataDir, 'member', 'snap', 'db')));

      member = await startMember(BIN.tsetcd, dataDir, member.clientPort);
      const keys = await ctl(member.endpoint, 'get', 'key', '--prefix', '--keys-only');
      assert.equal(keys.stdout.toString().split('\n').filter((l) => l !== '').length, 18);
      assert.equal((await ctl(member.endpoint, 'get', 'key39', '--print-value-only')).stdout.toString(), 'value39\n');
      assert.equal((await ctl(member.endpoint, 'get', 'key1', '-w', 'json')).stdout.toString().includes('"kvs"'), false);
    } finally {
      await member.stop();
      cleanup();
    }
  },
);
