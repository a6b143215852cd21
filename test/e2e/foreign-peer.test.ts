// A member of another cluster pointed at ours, with real tsetcd processes: member "a"
// runs a one-member cluster; member "b" is started with --initial-cluster naming "a" at
// a's peer URL (same token, so it computes a's member ID, but its cluster ID differs).
// a refuses b's streams with "cluster ID mismatch"; b logs the refusal with that reason
// once (instead of "established"/"lost the stream" many times a second), and a's log of
// the refusals stays bounded; a keeps serving.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN, type RunningMember } from './harness.js';

const OBSERVE_MS = 8000;

function logLines(file: string): { msg: string; reason?: string }[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; reason?: string });
}

test('a member of another cluster dialing ours: refused with the reason, logged once, backed off', async () => {
  const { dir, cleanup } = tempDir();
  const pa = await freePorts();
  const pb = await freePorts();
  const peerA = `http://127.0.0.1:${pa.peer}`;
  const peerB = `http://127.0.0.1:${pb.peer}`;
  const args = (name: string, p: typeof pa, cluster: string) => [
    `--name=${name}`,
    `--data-dir=${path.join(dir, name)}`,
    `--listen-client-urls=http://127.0.0.1:${p.client}`,
    `--advertise-client-urls=http://127.0.0.1:${p.client}`,
    `--listen-peer-urls=http://127.0.0.1:${p.peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${p.peer}`,
    `--initial-cluster=${cluster}`,
    '--initial-cluster-token=shared-token',
  ];
  const members: RunningMember[] = [];
  try {
    members.push(await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'a'), ports: pa, args: args('a', pa, `a=${peerA}`) }));
    members.push(await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'b'), ports: pb, args: args('b', pb, `a=${peerA},b=${peerB}`), waitHealthy: false }));
    await new Promise((r) => setTimeout(r, OBSERVE_MS));

    const b = logLines(members[1]!.logPath).filter((l) => /stream/.test(l.msg));
    const refusals = b.filter((l) => l.msg === 'the remote peer refused the stream; backing off');
    assert.equal(refusals.length, 1, JSON.stringify(b));
    assert.match(refusals[0]!.reason!, /cluster ID mismatch/);
    // at most: established, refused (the old loop wrote ~18 lines a second)
    assert.ok(b.length <= 3, `b logged ${b.length} stream lines in ${OBSERVE_MS} ms: ${JSON.stringify(b)}`);

    const a = logLines(members[0]!.logPath).filter((l) => l.msg === 'rejected a stream from a peer');
    assert.ok(a.length >= 1, 'a logs the refusal');
    assert.match(a[0]!.reason!, /cluster ID mismatch/);
    assert.ok(a.length <= 10, `a logged ${a.length} refusals: rate limit is 10 a minute`);

    const put = await etcdctl(`http://127.0.0.1:${pa.client}`, ['put', 'still', 'serving']);
    assert.equal(put.stdout, 'OK\n', put.stderr);
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    cleanup();
  }
});
