// The same etcdctl session against real etcd 3.4 and against tsetcd, started on the same
// ports with the same flags (so member and cluster IDs are equal too): every command
// must print the same thing and exit the same way.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, type CtlResult } from './harness.js';

interface Step {
  args: string[];
  stdin?: string;
}

const s = (...args: string[]): Step => ({ args });
const txn = (script: string, ...args: string[]): Step => ({ args: ['txn', ...args], stdin: script });

const SESSION: Step[] = [
  s('put', 'foo', 'bar'),
  s('put', 'foo', 'baz', '--prev-kv'),
  s('put', 'foo2', 'x', '-w', 'json'),
  s('put', 'fop', 'y', '-w', 'fields'),
  s('get', 'foo'),
  s('get', 'foo', '-w', 'json'),
  s('get', 'foo', '-w', 'fields'),
  s('get', 'foo', '--print-value-only'),
  s('get', 'fo', '--prefix'),
  s('get', 'fo', '--prefix', '--keys-only'),
  s('get', 'fo', '--prefix', '--limit', '1', '-w', 'json'),
  s('get', 'fo', '--prefix', '--limit', '2', '-w', 'fields'),
  s('get', 'a', 'foo2'),
  s('get', '--from-key', 'foo'),
  s('get', '--from-key', '', '--keys-only'),
  s('get', 'fo', '--prefix', '--sort-by=MODIFY', '--order=DESCEND'),
  s('get', 'fo', '--prefix', '--sort-by=VALUE', '--order=ASCEND', '-w', 'json'),
  s('get', 'fo', '--prefix', '--sort-by=CREATE', '--order=DESCEND', '--keys-only'),
  s('get', 'fo', '--prefix', '--order=DESCEND'),
  s('get', 'foo', '--rev=2'),
  s('get', 'foo', '--rev=2', '-w', 'json'),
  s('get', 'foo', '--rev=100000'),
  s('get', 'foo', '--consistency=s', '-w', 'json'),
  s('get', 'missing'),
  s('get', 'missing', '-w', 'json'),
  s('put', '', 'v'),
  s('get', ''),
  s('del', ''),
  s('put', 'absent', '--ignore-value'),
  s('put', 'foo', '--ignore-value', '-w', 'json'),
  s('put', 'foo', 'v', '--lease=1234'),
  s('put', 'k1', 'v', '--ignore-lease'),
  s('del', 'foo', '--prev-kv'),
  s('del', 'foo'),
  s('del', 'fo', '--prefix', '-w', 'json'),
  s('put', 'a', '1'),
  s('put', 'b', '2'),
  s('put', 'c', '3'),
  s('put', 'd', '4'),
  s('del', 'a', 'c', '--prev-kv'),
  txn('value("c") = "3"\n\nput c 33\nget c\n\nput failed x\n\n'),
  txn('value("c") = "3"\n\nput c 333\n\nget d\n\n', '-w', 'json'),
  txn('mod("d") > "0"\nversion("c") = "2"\ncreate("d") != "0"\n\ndel d\nput e 5\n\n\n'),
  txn('version("nope") = "0"\n\nget c --prefix\n\n\n', '-w', 'fields'),
  txn('value("c") < "1"\n\n\nput f 6\n\n'),
  txn('mod("c") > "0"\n\nput g 7\nput g 8\n\n\n'),
  s('get', '', '--from-key', '-w', 'json'),
  s('compact', '5'),
  s('compact', '5'),
  s('compact', '100000'),
  s('get', 'c', '--rev=3'),
  s('get', 'c', '--rev=5'),
  s('get', 'c', '--rev=6', '-w', 'json'),
  s('compact', '7', '--physical'),
  s('get', '', '--from-key', '--keys-only'),
  s('member', 'list'),
  s('member', 'list', '-w', 'json'),
  s('member', 'list', '-w', 'table'),
  s('endpoint', 'health'),
  s('put', 'z', 'last'),
];

function normalize(r: CtlResult): CtlResult {
  // etcdctl prints durations; nothing else in this session depends on timing
  const took = (t: string) => t.replace(/took = [0-9.]+[a-zµ]+/g, 'took = X');
  return { stdout: took(r.stdout), stderr: took(r.stderr), code: r.code };
}

async function runSession(bin: string, dataDir: string, ports: { client: number; peer: number }): Promise<CtlResult[]> {
  const member = await startMember({ bin, dataDir, ports });
  try {
    const out: CtlResult[] = [];
    for (const step of SESSION) out.push(normalize(await etcdctl(member.clientUrl, step.args, step.stdin)));
    return out;
  } finally {
    await member.stop();
  }
}

test('etcdctl prints the same for tsetcd as for etcd 3.4', { skip: !haveBinary('etcd') && 'etcd is not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ports = await freePorts();
    const want = await runSession('etcd', path.join(dir, 'etcd'), ports);
    const got = await runSession(TSETCD_BIN, path.join(dir, 'tsetcd'), ports);
    for (let i = 0; i < SESSION.length; i++) {
      const step = SESSION[i]!;
      assert.deepEqual(got[i], want[i], `etcdctl ${step.args.join(' ')}${step.stdin ? ` <<< ${JSON.stringify(step.stdin)}` : ''}`);
    }
  } finally {
    cleanup();
  }
});
