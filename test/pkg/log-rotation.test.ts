// --enable-log-rotation as etcd's lumberjack sink behaves: the file is renamed to
// <name>-<UTC time>.<ext> when a write would pass maxsize MB and a new one started, old
// backups beyond maxbackups are removed, compress gzips them, and the config's JSON is
// checked with etcd's messages (through the flag parser, as a user meets them).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { backupStamp, RotatingFile } from '../../src/pkg/log-rotation.js';
import { parseConfig } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';

const MB = 1024 * 1024;
const line = (c: string) => c.repeat(400 * 1024 - 1) + '\n';

/** a clock that moves one second per call, from a fixed start */
function steppingClock(): () => Date {
  let t = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  return () => new Date((t += 1000));
}

describe('RotatingFile', () => {
  it('starts a new file before passing maxsize and keeps at most maxbackups', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'etcd.log');
      const f = new RotatingFile(file, { maxsize: 1, maxage: 0, maxbackups: 2, localtime: false, compress: false }, steppingClock());
      for (const c of 'abcdefghij') f.write(line(c)); // 10 x 400 KiB: two lines per 1 MiB file
      assert.ok(fs.statSync(file).size <= MB);
      const backups = f.backups();
      assert.equal(backups.length, 2, backups.join(','));
      assert.match(path.basename(backups[0]!), /^etcd-2026-01-02T03-04-\d\d\.006\.log$/);
      // the newest backup holds the lines just before the live file's
      assert.equal(fs.readFileSync(file, 'utf8')[0], 'i');
      assert.equal(fs.readFileSync(backups[0]!, 'utf8')[0], 'g');
    } finally {
      cleanup();
    }
  });

  it('gzips backups with compress', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'member.log');
      const f = new RotatingFile(file, { maxsize: 1, maxage: 0, maxbackups: 0, localtime: false, compress: true }, steppingClock());
      for (const c of 'abc') f.write(line(c));
      const [gz] = f.backups();
      assert.match(gz!, /\.log\.gz$/);
      assert.equal(gunzipSync(fs.readFileSync(gz!)).toString()[0], 'a');
    } finally {
      cleanup();
    }
  });

  it('names backups with the time as Go formats 2006-01-02T15-04-05.000', () => {
    assert.equal(backupStamp(new Date(Date.UTC(2026, 11, 8, 1, 2, 3, 45)), false), '2026-12-08T01-02-03.045');
  });
});

describe('--enable-log-rotation', () => {
  const errorOf = (args: string[]) => parseConfig(args, {}, { bootstrapChecks: false }).error?.message;

  it('needs exactly one file among --log-outputs, as etcd', () => {
    const msg = '--log-outputs requires a single file path when --log-rotate-config-json is defined';
    assert.equal(errorOf(['--enable-log-rotation']), msg);
    assert.equal(errorOf(['--enable-log-rotation', '--log-outputs=/tmp/a.log,/tmp/b.log']), msg);
    assert.equal(errorOf(['--enable-log-rotation', '--log-outputs=stderr,/tmp/a.log']), undefined);
  });

  it('reports a config that does not decode, as etcd', () => {
    assert.match(errorOf(['--enable-log-rotation', '--log-outputs=/tmp/a.log', '--log-rotation-config-json={"maxsize":']) ?? '', /^improperly formatted log rotation config: /);
    assert.match(errorOf(['--enable-log-rotation', '--log-outputs=/tmp/a.log', '--log-rotation-config-json={"maxsize":"big"}']) ?? '', /^invalid log rotation config: json: cannot unmarshal string into Go struct field logRotationConfig\.maxsize of type int/);
  });

  it('hands the decoded settings to the member', () => {
    const r = parseConfig(['--enable-log-rotation', '--log-outputs=/tmp/a.log', '--log-rotation-config-json={"maxsize": 5, "compress": true}'], {}, { bootstrapChecks: false });
    assert.deepEqual(r.config?.logRotation, { maxsize: 5, maxage: 0, maxbackups: 0, localtime: false, compress: true });
  });
});
