// What the golden comparison with etcdctl 3.4 cannot show for tsetcdctl's operations
// commands: raw-byte arguments survive the trip through argv (a property over random
// bytes), the SRV lookups of --discovery-srv (against a tiny DNS server on loopback),
// shell completion scripts that load in bash and complete commands and flags,
// make-mirror copying and then following changes between two tsetcd members,
// check perf / check datascale verdicts with tiny loads, and --debug's listing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { argBytes, decodeEscaped, rawUserArgs } from '../../src/cli/ctl/argv.js';
import { srvEndpoints } from '../../src/cli/ctl/discovery.js';
import { replaceFirst } from '../../src/cli/ctl/mirror-command.js';
import { tempDir } from '../helpers/tmp.js';
import { BIN, cleanEnv, haveBinary, run, startMember, type Member } from './helpers.js';

test('every byte string survives decodeEscaped and argBytes unchanged', () => {
  let seed = 12345;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(Array.from({ length: rand(12) }, () => (rand(3) === 0 ? rand(256) : 0x80 + rand(128))));
    assert.deepEqual(argBytes(decodeEscaped(bytes)), bytes, `round trip of ${bytes.toString('hex')}`);
  }
  // valid UTF-8 stays the text it is
  assert.equal(decodeEscaped(Buffer.from('héllo €')), 'héllo €');
});

test('rawUserArgs takes the bytes from the raw argument vector when it matches argv', () => {
  const dir = tempDir('argv-');
  try {
    const cmdline = path.join(dir.dir, 'cmdline');
    fs.writeFileSync(cmdline, Buffer.concat([Buffer.from('node\0/x/tsetcdctl.js\0put\0'), Buffer.from([0x62, 0xff, 0]), Buffer.from('v\0')]));
    const args = rawUserArgs(['node', '/x/tsetcdctl.js', 'put', 'b\ufffd', 'v'], cmdline);
    assert.deepEqual(args.map((a) => argBytes(a).toString('hex')), ['707574', '62ff', '76']);
    // a vector that does not match argv is not trusted
    assert.deepEqual(rawUserArgs(['node', '/x/tsetcdctl.js', 'get', 'other'], cmdline), ['get', 'other']);
  } finally {
    dir.cleanup();
  }
});

test('make-mirror renames keys the way Go strings.Replace(key, prefix, dest, 1) does', () => {
  const b = (s: string): Buffer => Buffer.from(s);
  assert.equal(replaceFirst(b('/p/a'), b('/p'), b('/m')).toString(), '/m/a');
  assert.equal(replaceFirst(b('a/p/p'), b('/p'), b('')).toString(), 'a/p');
  assert.equal(replaceFirst(b('key'), b(''), b('x/')).toString(), 'x/key');
});

/** A DNS server answering SRV questions from `records`; other names get NXDOMAIN. */
function dnsServer(records: Record<string, Array<{ priority: number; weight: number; port: number; target: string }>>): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const encodeName = (name: string): Buffer => Buffer.concat([...name.split('.').filter((l) => l !== '').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  sock.on('message', (q, rinfo) => {
    let at = 12;
    const labels: string[] = [];
    while (q[at]! !== 0) {
      labels.push(q.subarray(at + 1, at + 1 + q[at]!).toString());
      at += q[at]! + 1;
    }
    const question = q.subarray(12, at + 5);
    const answers = records[labels.join('.')] ?? [];
    const header = Buffer.alloc(12);
    q.copy(header, 0, 0, 2);
    header.writeUInt16BE(answers.length > 0 ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((a) => {
      const target = encodeName(a.target);
      const rr = Buffer.alloc(12 + 6);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(33, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(6 + target.length, 10);
      rr.writeUInt16BE(a.priority, 12);
      rr.writeUInt16BE(a.weight, 14);
      rr.writeUInt16BE(a.port, 16);
      return Buffer.concat([rr, target]);
    });
    sock.send(Buffer.concat([header, question, ...rrs]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, close: () => sock.close() })));
}

test('--discovery-srv finds https and http endpoints in SRV records, as etcdctl does', async () => {
  const server = await dnsServer({
    '_etcd-client-ssl._tcp.example.test': [
      { priority: 10, weight: 1, port: 2379, target: 'm2.example.test' },
      { priority: 0, weight: 1, port: 2379, target: 'm1.example.test' },
    ],
    '_etcd-client._tcp.example.test': [{ priority: 0, weight: 1, port: 22379, target: 'm3.example.test' }],
    '_etcd-client-custom._tcp.other.test': [{ priority: 0, weight: 1, port: 4001, target: 'n1.other.test' }],
  });
  try {
    const resolver = new dns.promises.Resolver();
    resolver.setServers([`127.0.0.1:${server.port}`]);
    assert.deepEqual(await srvEndpoints('example.test', '', resolver), [
      'https://m1.example.test.:2379',
      'https://m2.example.test.:2379',
      'http://m3.example.test.:22379',
    ]);
    // --discovery-srv-name: one lookup failing is fine
    assert.deepEqual(await srvEndpoints('other.test', 'custom', resolver), ['http://n1.other.test.:4001']);
    await assert.rejects(
      srvEndpoints('nothing.test', '', resolver),
      new Error(
        `dns lookup errors: lookup _etcd-client-ssl._tcp.nothing.test on 127.0.0.1:${server.port}: no such host and ` +
          `lookup _etcd-client._tcp.nothing.test on 127.0.0.1:${server.port}: no such host`,
      ),
    );
  } finally {
    server.close();
  }
});

test('completion scripts: bash loads them and completes commands and flags', async () => {
  const binDir = path.dirname(BIN.tsetcdctl);
  const script = `
    export PATH=${binDir}:$PATH
    source <(tsetcdctl completion bash) || exit 9
    complete -p tsetcdctl
    t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); COMPREPLY=(); __tsetcdctl_complete; echo "[\${COMPREPLY[*]}]"; }
    t tsetcdctl mem
    t tsetcdctl member ""
    t tsetcdctl get --pre
    t tsetcdctl --endpoints=x endpoint h
    t tsetcdctl get -w j
    t tsetcdctl completion ""
  `;
  const r = await run('bash', ['-c', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.toString().trim().split('\n'), [
    'complete -F __tsetcdctl_complete tsetcdctl',
    '[member]',
    '[add list promote remove update]',
    '[--prefix]',
    '[hashkv health]',
    '[json]',
    '[bash zsh fish powershell]',
  ]);
  for (const shell of ['zsh', 'fish', 'powershell']) {
    const s = await run(BIN.tsetcdctl, ['completion', shell]);
    assert.equal(s.code, 0);
    assert.match(s.stdout.toString(), / __complete /, `${shell} script calls __complete`);
    assert.match(s.stdout.toString(), /tsetcdctl/, `${shell} script names the program`);
  }
  const bad = await run(BIN.tsetcdctl, ['completion', 'tcsh']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: invalid argument "tcsh" for "tsetcdctl completion"\n/);
});

let dirs: { dir: string; cleanup: () => void };
let source: Member;
let dest: Member;
const enabled = haveBinary('etcdctl');

before(async () => {
  dirs = tempDir('tsetcdctl-ops-');
  source = await startMember(BIN.tsetcd, path.join(dirs.dir, 'src'));
  dest = await startMember(BIN.tsetcd, path.join(dirs.dir, 'dest'));
});

after(async () => {
  await source?.stop();
  await dest?.stop();
  dirs?.cleanup();
});

const ctl = (m: Member, ...args: string[]): ReturnType<typeof run> => run(BIN.tsetcdctl, [`--endpoints=${m.endpoint}`, ...args]);

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`not in time: ${what}`);
}

test('make-mirror copies the prefix, then follows puts and deletes, renaming keys', async () => {
  for (const [k, v] of [['/p/a', '1'], ['/p/b', '2'], ['/q/x', 'no']]) assert.equal((await ctl(source, 'put', k, v)).code, 0);
  const mirror = spawn(BIN.tsetcdctl, [`--endpoints=${source.endpoint}`, 'make-mirror', '--prefix=/p/', '--dest-prefix=/m/', dest.endpoint], { env: cleanEnv(), stdio: 'ignore' });
  const keysOnDest = async (): Promise<string> => (await ctl(dest, 'get', '', '--from-key')).stdout.toString();
  try {
    await eventually('base copy', async () => (await keysOnDest()) === '/m/a\n1\n/m/b\n2\n');
    await ctl(source, 'put', '/p/c', '3');
    await ctl(source, 'del', '/p/a');
    await ctl(source, 'put', '/q/y', 'no');
    await eventually('changes followed', async () => (await keysOnDest()) === '/m/b\n2\n/m/c\n3\n');
  } finally {
    mirror.kill('SIGTERM');
  }
  const both = await ctl(source, 'make-mirror', '--dest-prefix=/x/', '--no-dest-prefix', dest.endpoint);
  assert.equal(both.code, 128);
  assert.equal(both.stderr, 'Error: `--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one\n');
  const none = await ctl(source, 'make-mirror');
  assert.equal(none.code, 128);
  assert.equal(none.stderr, 'Error: make-mirror takes one destination argument\n');
});

test('check perf and check datascale give their verdicts and clean up', async () => {
  const env = { TSETCDCTL_CHECK_LOAD: '20,2,2' };
  const perf = await run(BIN.tsetcdctl, [`--endpoints=${source.endpoint}`, 'check', 'perf', '--auto-compact', '--auto-defrag'], { env });
  const out = perf.stdout.toString();
  // the verdict depends on the machine; its shape does not
  assert.match(out, /(PASS: Throughput is \d+ writes\/s|FAIL: Throughput too low: \d+ writes\/s)\n/);
  assert.match(out, /Compacting with revision \d+\nCompacted with revision \d+\nDefragmenting "127\.0\.0\.1:\d+"\nDefragmented "127\.0\.0\.1:\d+"\n/);
  assert.match(out, /\n(PASS|FAIL)\n$/);
  assert.equal(perf.code, out.endsWith('\nPASS\n') ? 0 : 1);
  const left = await ctl(source, 'get', '/etcdctl-check-perf/', '--prefix', '--keys-only');
  assert.equal(left.stdout.length, 0, 'check perf left keys behind');

  const scale = await run(BIN.tsetcdctl, [`--endpoints=${source.endpoint}`, 'check', 'datascale'], { env: { TSETCDCTL_CHECK_LOAD: '50,3' } });
  assert.equal(scale.code, 0, scale.stderr);
  assert.match(scale.stdout.toString(), /^Start data scale check for work load \[50 key-value pairs, 1024 bytes per key-value, 3 concurrent clients\]\.\n/);
  assert.match(scale.stdout.toString(), /\nPASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$/);

  await ctl(source, 'put', '/etcdctl-check-perf/taken', 'x');
  const taken = await run(BIN.tsetcdctl, [`--endpoints=${source.endpoint}`, 'check', 'perf'], { env });
  assert.equal(taken.code, 3);
  assert.equal(taken.stderr, `Error: prefix "/etcdctl-check-perf/" has keys. Delete with 'etcdctl del --prefix /etcdctl-check-perf/' first\n`);
  const badLoad = await ctl(source, 'check', 'datascale', '--load=huge');
  assert.equal(badLoad.code, 4);
  assert.equal(badLoad.stderr, 'Error: unknown load option huge\n');
});

test('--debug lists the settings of the new commands as etcdctl does', { skip: !enabled && 'etcdctl not installed' }, async () => {
  for (const args of [['alarm', 'list'], ['endpoint', 'hashkv'], ['defrag'], ['snapshot', 'save', path.join(dirs.dir, 'debug.db')]]) {
    const settings = (r: { stderr: string }): string =>
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith('ETCDCTL_'))
        .join('\n');
    const ref = await run('etcdctl', [`--endpoints=${source.endpoint}`, '--debug', ...args]);
    const ours = await run(BIN.tsetcdctl, [`--endpoints=${source.endpoint}`, '--debug', ...args]);
    assert.equal(ours.code, ref.code);
    assert.ok(settings(ours).split('\n').length >= 18);
    assert.equal(settings(ours), settings(ref), args.join(' '));
  }
});

/** The flags an etcdctl-style usage page lists, as "--name=default", by section. */
function listedFlags(page: string): { sections: string[]; options: string[] } {
  const sections = page.split('\n').filter((l) => /^[A-Z][A-Z ]+:$/.test(l));
  const options = page
    .split('\n')
    .map((l) => /^\s+(?:-\w, )?(--[\w-]+(?:\[=[^\]]*\]|=\S*))\t/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
  return { sections, options };
}

test('--help pages list the flags, defaults and sections of etcdctl', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const commands: Array<{ args: string[]; extra?: string[] }> = [
    { args: ['member', 'add'] },
    { args: ['member', 'remove'] },
    { args: ['member', 'update'] },
    { args: ['member', 'promote'] },
    { args: ['alarm', 'list'] },
    { args: ['alarm', 'disarm'] },
    { args: ['defrag'] },
    { args: ['endpoint', 'hashkv'] },
    { args: ['move-leader'] },
    { args: ['snapshot', 'save'] },
    // --dest-user and --dest-password are etcdctl 3.5's, --rev and --max-txn-ops 3.6's
    { args: ['make-mirror'], extra: ['--dest-password=""', '--dest-user=""', '--max-txn-ops=128', '--rev=0'] },
    { args: ['check', 'perf'] },
    { args: ['check', 'datascale'] },
  ];
  for (const { args, extra = [] } of commands) {
    const ref = listedFlags((await run('etcdctl', [...args, '--help'])).stdout.toString());
    const ours = listedFlags((await run(BIN.tsetcdctl, [...args, '--help'])).stdout.toString());
    assert.deepEqual(ours.sections, ref.sections, `sections of ${args.join(' ')}`);
    assert.deepEqual(ours.options.filter((o) => !extra.includes(o)), ref.options, `flags of ${args.join(' ')}`);
  }
});

test('member list -w json --hex shows IDs in hex, as etcdctl 3.5 does', async () => {
  const add = await ctl(source, 'member', 'add', 'l1', '--peer-urls=http://127.0.0.1:7301', '--learner');
  assert.equal(add.code, 0, add.stderr);
  try {
    const simple = (await ctl(source, 'member', 'list')).stdout.toString().trim().split('\n');
    const hex = JSON.parse((await ctl(source, 'member', 'list', '-w', 'json', '--hex')).stdout.toString()) as {
      header: { cluster_id: string; member_id: string; raft_term: number };
      members: Array<{ ID: string; name: string; peerURLs: string[] | null; clientURLS: string[] | null }>;
    };
    assert.deepEqual(
      hex.members.map((m) => m.ID),
      simple.map((l) => l.split(',')[0]),
    );
    assert.match(hex.header.cluster_id, /^[0-9a-f]+$/);
    const learner = hex.members.find((m) => m.peerURLs?.[0] === 'http://127.0.0.1:7301');
    assert.ok(learner, 'the learner is listed');
    assert.equal(learner.name, '');
    assert.equal(learner.clientURLS, null);
  } finally {
    const id = (await ctl(source, 'member', 'list')).stdout.toString().split('\n').find((l) => l.includes('7301'))?.split(',')[0];
    if (id) await ctl(source, 'member', 'remove', id);
  }
});
