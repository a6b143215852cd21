// tsetcdutl's smaller etcdutl commands: migrate accepts the storage versions etcd's
// migrate accepts (3.5, 3.6) for a tsetcd data dir and leaves it readable, refusing the
// others with etcdutl's messages and exit codes; completion scripts load in bash and
// complete tsetcdutl's commands and flags; --help lists every command, pki included.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, run, startMember } from './helpers.js';

test('migrate: 3.5 and 3.6 leave a tsetcd data dir as it was; other targets are refused as etcdutl refuses them', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('tsetcdutl-migrate-');
  const dataDir = path.join(dir, 'ts');
  let m = await startMember(BIN.tsetcd, dataDir);
  try {
    assert.equal((await run(BIN.tsetcdctl, [`--endpoints=${m.endpoint}`, 'put', 'k', 'v'])).code, 0);
    await m.stop();
    for (const v of ['3.5', '3.6']) {
      const r = await run(BIN.tsetcdutl, ['migrate', '--data-dir', dataDir, '--target-version', v]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`\\tinfo\\t.*storage version up-to-date\\t\\{"storage-version": "${v.replace('.', '\\.')}"\\}\\n$`));
    }
    const refusals: Array<[string, number, string]> = [
      ['3.4', 128, 'Error: target version "3.4" not supported. Minimal "3.5"\n'],
      ['3', 128, 'Error: wrong target version format, expected "X.Y", got "3"\n'],
      ['3.6.1', 128, 'Error: wrong target version format, expected "X.Y", got "3.6.1"\n'],
      ['3.7', 1, 'Error: cannot create migration plan: version "3.7.0" is not supported\n'],
      ['4.0', 1, 'Error: cannot create migration plan: changing major storage version is not supported\n'],
    ];
    for (const [v, code, stderr] of refusals) {
      const r = await run(BIN.tsetcdutl, ['migrate', '--data-dir', dataDir, '--target-version', v]);
      assert.deepEqual([v, r.code, r.stderr], [v, code, stderr]);
    }
    const noDir = await run(BIN.tsetcdutl, ['migrate', '--data-dir', path.join(dir, 'none'), '--target-version', '3.6']);
    assert.equal(noDir.code, 128);
    assert.match(noDir.stderr, /^Error: failed to get the lastest snapshot: open .*none\/member\/wal: no such file or directory\n$/);
    const noFlag = await run(BIN.tsetcdutl, ['migrate', '--data-dir', dataDir]);
    assert.equal(noFlag.code, 1);
    assert.match(noFlag.stderr, /^Error: required flag\(s\) "target-version" not set\n/);
    // the data dir still serves its key after the migrations
    m = await startMember(BIN.tsetcd, dataDir);
    const got = await run(BIN.tsetcdctl, [`--endpoints=${m.endpoint}`, 'get', 'k', '--print-value-only']);
    assert.equal(got.stdout.toString(), 'v\n');
  } finally {
    await m.stop();
    cleanup();
  }
});

test('completion bash loads and completes tsetcdutl commands and flags', { skip: spawnSync('bash', ['--version']).status !== 0 && 'no bash' }, () => {
  const { dir, cleanup } = tempDir('tsetcdutl-completion-');
  try {
    const bin = path.join(dir, 'tsetcdutl');
    fs.symlinkSync(BIN.tsetcdutl, bin);
    const script = `
      export PATH=${JSON.stringify(dir)}:$PATH
      source <(tsetcdutl completion bash) || exit 9
      COMP_WORDS=(tsetcdutl ha); COMP_CWORD=1; __tsetcdutl_complete; echo "1:\${COMPREPLY[*]}"
      COMP_WORDS=(tsetcdutl hashkv --r); COMP_CWORD=2; __tsetcdutl_complete; echo "2:\${COMPREPLY[*]}"
      COMP_WORDS=(tsetcdutl migrate --t); COMP_CWORD=2; __tsetcdutl_complete; echo "3:\${COMPREPLY[*]}"`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1:hashkv\n2:--rev\n3:--target-version\n');
    for (const shell of ['zsh', 'fish', 'powershell']) {
      const s = spawnSync(BIN.tsetcdutl, ['completion', shell], { encoding: 'utf8' });
      assert.equal(s.status, 0);
      assert.match(s.stdout, /tsetcdutl __complete/);
    }
    const bad = spawnSync(BIN.tsetcdutl, ['completion', 'tcsh'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^Error: invalid argument "tcsh" for "tsetcdutl completion"\n/);
  } finally {
    cleanup();
  }
});

test('--help lists etcdutl commands and pki; version prints the two version lines', async () => {
  const help = (await run(BIN.tsetcdutl, ['--help'])).stdout.toString();
  const listed = [...help.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
  for (const name of ['completion', 'defrag', 'hashkv', 'migrate', 'pki', 'snapshot', 'version']) assert.ok(listed.includes(name), `${name} in\n${help}`);
  assert.deepEqual(listed, [...listed].sort(), 'commands are listed in order, as cobra sorts them');
  const v = await run(BIN.tsetcdutl, ['version']);
  assert.match(v.stdout.toString(), /^tsetcdutl version: \S+\nAPI version: \S+\n$/);
});
