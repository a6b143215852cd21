// Proves etcd's other modes of the binary, which tsetcd does not have yet, are refused with
// a sentence that names the mode and exit code 1, before anything is created — not taken
// for a stray argument.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { TSETCD_BIN } from './harness.js';

// (`gateway` is built: test/e2e/gateway.test.ts)
for (const mode of ['grpc-proxy']) {
  test(`tsetcd ${mode} start is refused by name`, () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = spawnSync(TSETCD_BIN, [mode, 'start', '--endpoints=127.0.0.1:1'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`etcd's ${mode} mode is not supported yet`));
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created');
    } finally {
      cleanup();
    }
  });
}
