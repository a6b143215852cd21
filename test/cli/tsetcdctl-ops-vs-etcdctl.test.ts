// tsetcdctl's cluster-operation commands (member add/remove/update/promote, alarm,
// defrag, endpoint hashkv, move-leader, snapshot save) and non-UTF-8 arguments against
// the real etcdctl: the same session runs step by step, etcdctl against tsetcd member A
// and tsetcdctl against tsetcd member B (started alike, so both have the same IDs and
// history). Each step must give the same stdout, stderr and exit code. Normalised: the
// client ports, the ID of a member added during the session (its IDs differ between
// the two clusters), gRPC retry log lines, zap log lines, and the program name. Known
// etcdctl 3.4 → 3.5 differences are normalised where they show and named there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { goJson } from '../../src/cli/ctl/gofmt.js';
import { MemberAddResponse, MemberRemoveResponse, MemberUpdateResponse } from '../../src/proto/etcdserverpb.js';
import type { MessageCodec } from '../../src/proto/runtime.js';
import { tempDir } from '../helpers/tmp.js';
import { BIN, freePort, haveBinary, run, startMember, type Member, type Result } from './helpers.js';

interface Step {
  args: string[];
  stdin?: string | Buffer;
  /** the step prints a usage page on stdout, which is ours in wording: compare stderr and code only */
  usage?: boolean;
  /** which client runs against which member: each its own (default), or both the same one */
  member?: 'own' | 'A';
  /** run the client for a second time on the other side: a write by one tool read by the other */
  cross?: boolean;
  /**
   * protobuf output holding a new member's ID, whose varint length differs between the
   * sides: compared decoded (as JSON) rather than byte for byte
   */
  decode?: MessageCodec<unknown>;
}

const s = (...args: string[]): Step => ({ args });
const w = (step: Step, extra: Partial<Step>): Step => ({ ...step, ...extra });
/** every output format of one command line */
const allFormats = (...args: string[]): Step[] => ['simple', 'json', 'fields', 'table', 'protobuf'].map((f) => s(...args, '-w', f));

// A cluster token that gives the first member a very small ID: members are listed in ID
// order, so every member added later (random IDs) comes after it on both sides.
const TOKEN = 'ctl-ops-611';
const SELF = 'e809d0f40351e';
const BIN_KEY = 'bin\x01\udcff'; // "bin\x01" then the raw byte 0xff (see argv.ts)

const SESSION: Step[] = [
  // membership: argument errors
  s('member', 'add'),
  s('member', 'add', 'x'),
  s('member', 'add', 'x', 'http://127.0.0.1:1', 'HTTPS://b'),
  s('member', 'add', 'x', 'y'),
  s('member', 'add', 'x', '--peer-urls='),
  s('member', 'remove'),
  s('member', 'remove', 'zz'),
  s('member', 'remove', '1', '2'),
  s('member', 'remove', '1ffffffffffffffff'),
  s('member', 'remove', '-w', 'json'),
  s('member', 'update', '1234'),
  s('member', 'update'),
  s('member', 'update', 'xyz', '--peer-urls=http://a:1'),
  s('member', 'promote'),
  s('member', 'promote', 'g'),
  s('member', 'remove', '1234'),
  s('member', 'remove', '1234', '-w', 'json'),
  s('member', 'update', '1234', '--peer-urls=http://127.0.0.1:9'),
  s('member', 'promote', '1234'),
  s('member', 'promote', SELF),
  s('member', 'promote', SELF, '-w', 'json'),
  s('member', 'add', 'x', '--peer-urls=http://localhost:2380', '--learner'),
  s('member', 'add', '--peer-urls=http://a:1'),
  w(s('member', 'add', '--bogus'), { usage: true }),
  w(s('member', 'add', '--learner=maybe', 'x'), { usage: true }),
  w(s('member', 'update', '--help'), { usage: true }),
  // a learner, added, changed, listed and removed, in every format
  s('member', 'add', 'learner1', '--peer-urls=http://127.0.0.1:7001,http://127.0.0.1:7002', '--learner'),
  s('member', 'list'),
  s('member', 'list', '-w', 'json'),
  s('member', 'update', '{NEW}', '--peer-urls=http://127.0.0.1:7003'),
  s('member', 'update', '{NEW}', '--peer-urls=http://127.0.0.1:7004', '-w', 'json'),
  w(s('member', 'update', '{NEW}', '--peer-urls=http://127.0.0.1:7005', '-w', 'protobuf'), { decode: MemberUpdateResponse as MessageCodec<unknown> }),
  s('member', 'update', '{NEW}', '--peer-urls=http://127.0.0.1:7006', '-w', 'fields'),
  s('member', 'update', '{NEW}', '--peer-urls=http://127.0.0.1:7007', '-w', 'table'),
  s('member', 'update', '{NEW}', '--peer-urls=http://localhost:2380'),
  s('member', 'list', '-w', 'table'),
  s('member', 'list', '-w', 'fields'),
  s('member', 'promote', '{NEW}'),
  s('member', 'promote', '{NEW}', '-w', 'json'),
  s('member', 'add', 'learner2', '--peer-urls=http://127.0.0.1:7011', '--learner'),
  s('member', 'remove', '{NEW}'),
  s('member', 'remove', '{NEW}'),
  s('member', 'add', 'learner3', '--peer-urls=http://127.0.0.1:7021', '--learner', '-w', 'json'),
  s('member', 'remove', '{NEW}', '-w', 'json'),
  w(s('member', 'add', 'learner4', '--peer-urls=http://127.0.0.1:7031', '--learner', '-w', 'protobuf'), { decode: MemberAddResponse as MessageCodec<unknown> }),
  w(s('member', 'remove', '{NEW}', '-w', 'protobuf'), { decode: MemberRemoveResponse as MessageCodec<unknown> }),
  s('member', 'add', 'learner5', '--peer-urls=http://127.0.0.1:7041', '--learner', '-w', 'fields'),
  s('member', 'remove', '{NEW}', '-w', 'table'),
  s('member', 'add', 'learner6', '--peer-urls=http://127.0.0.1:7051', '--learner', '-w', 'table'),
  s('member', 'remove', '{NEW}', '-w', 'fields'),
  s('member', 'add', 'lé\tarner"7', '--peer-urls=http://127.0.0.1:7061', '--learner'),
  s('member', 'remove', '{NEW}'),
  s('member', 'list'),
  s('member', 'add', 'x', '--peer-urls=http://127.0.0.1:7071', '--learner', '-w', 'xml'),
  s('member', 'list'),
  // alarms
  ...allFormats('alarm', 'list'),
  s('alarm', 'disarm'),
  s('alarm', 'disarm', '-w', 'json'),
  s('alarm', 'disarm', '-w', 'protobuf'),
  s('alarm', 'disarm', '-w', 'table'),
  s('alarm', 'list', 'extra'),
  s('alarm', 'disarm', 'extra'),
  w(s('alarm'), { usage: true }),
  s('alarm', 'lis'),
  w(s('alarm', 'bogus'), { usage: true }),
  // hashes, defragmentation
  s('put', 'h', '1'),
  s('put', 'h', '2'),
  ...allFormats('endpoint', 'hashkv'),
  s('endpoint', 'hashkv', '--rev=2'),
  s('endpoint', 'hashkv', '--rev=2', '-w', 'json'),
  s('endpoint', 'hashkv', '--rev', '3', '-w', 'fields'),
  s('endpoint', 'hashkv', '--rev=100000'),
  s('endpoint', 'hashkv', '--rev=100000', '-w', 'json'),
  s('endpoint', 'hashkv', '--cluster'),
  s('endpoint', 'hashkv', '--cluster', '-w', 'table'),
  w(s('endpoint', 'hashkv', '--rev=x'), { usage: true }),
  s('compaction', '3'),
  s('endpoint', 'hashkv', '--rev=2'),
  s('endpoint', 'hashkv', '--rev=3', '-w', 'table'),
  s('defrag'),
  s('defrag', '-w', 'json'),
  s('defrag', '--cluster'),
  s('defrag', 'ignored-arg'),
  w(s('defrag', '--clusterx'), { usage: true }),
  // leadership
  s('move-leader'),
  s('move-leader', 'a', 'b'),
  s('move-leader', 'xyz'),
  w(s('move-leader', '-12'), { usage: true }),
  s('move-leader', '1234'),
  s('move-leader', SELF),
  s('move-leader', SELF, '-w', 'json'),
  s('move-leader', SELF, '-w', 'fields'),
  s('move-leader', SELF, '-w', 'table'),
  s('move-leader', SELF, '-w', 'protobuf'),
  // snapshots
  s('snapshot', 'save', '{DIR}/snap.db'),
  s('snapshot', 'save'),
  s('snapshot', 'save', 'a', 'b'),
  s('snapshot', 'save', '{DIR}/no/such/dir/snap.db'),
  s('snapshot', 'save', '{DIR}/snap.db', '-w', 'json'),
  s('snapshot', 'save', '{DIR}/snap.db', '-w', 'xml'),
  s('snapshot', 'save', '{DIR}/snap.db', '--command-timeout=20s'),
  w(s('snapshot'), { usage: true }),
  // arguments that are not UTF-8: written by one tool, read by the other
  w(s('put', BIN_KEY, 'v\udcfe'), { cross: true }),
  w(s('get', BIN_KEY), { cross: true }),
  w(s('get', BIN_KEY, '--hex'), { cross: true }),
  w(s('get', BIN_KEY, '-w', 'json'), { cross: true }),
  w(s('get', BIN_KEY, '-w', 'fields'), { cross: true }),
  w(s('get', 'bin', '--prefix', '-w', 'fields'), { cross: true }),
  w(s('get', '\udcfe', '--from-key', '--keys-only', '--hex'), { cross: true }),
  w(s('put', 'z\udcfe\udc80', '\udcc3', '--prev-kv'), { cross: true }),
  w(s('get', 'z\udcfe\udc80', '-w', 'json'), { cross: true }),
  w(s('get', 'z\udcfe', '--prefix', '-w', 'protobuf'), { cross: true }),
  w(s('put', '\udcff\udcff', 'top'), { cross: true }),
  w(s('get', '\udcff', '--prefix', '-w', 'fields'), { cross: true }),
  w(s('del', '\udcff\udcff', '--prev-kv'), { cross: true }),
  w(s('del', BIN_KEY, '-w', 'json'), { cross: true }),
  w(s('del', 'z\udcfe', '--prefix', '--prev-kv', '-w', 'fields'), { cross: true }),
  w(s('put', 'k', 'v', '--lease=\udcff'), { cross: true }),
  w(s('compaction', '\udcff'), { cross: true }),
  w(s('member', 'remove', '\udcff'), { cross: true }),
  s('member', 'add', 'x', 'http\udcff'),
  w(s('get', '\udcfe', '--bogus'), { usage: true }),
  w(s('member', 'add', 'n\udcff', '--peer-urls=http://127.0.0.1:7081', '--learner'), {}),
  s('member', 'remove', '{NEW}'),
  // the voting member added last: the single-member cluster then waits for it, as etcd does
  s('member', 'add', 'voter', '--peer-urls=http://127.0.0.1:7091'),
];

/** Commands against an endpoint nothing listens on. */
const UNREACHABLE: string[][] = [
  ['member', 'add', 'x', '--peer-urls=http://a:1'],
  ['member', 'remove', '1'],
  ['member', 'update', '1', '--peer-urls=http://a:1'],
  ['member', 'promote', '1'],
  ['alarm', 'list'],
  ['alarm', 'disarm'],
  ['defrag'],
  ['defrag', '--cluster'],
  ['endpoint', 'hashkv'],
  ['endpoint', 'hashkv', '--cluster'],
  ['move-leader', '1'],
];

let dirs: { dir: string; cleanup: () => void };
let memberA: Member;
let memberB: Member;
let deadPort = 0;
const enabled = haveBinary('etcdctl');

before(async () => {
  if (!enabled) return;
  dirs = tempDir('tsetcdctl-ops-');
  memberA = await startMember(BIN.tsetcd, path.join(dirs.dir, 'a'), undefined, [`--initial-cluster-token=${TOKEN}`]);
  memberB = await startMember(BIN.tsetcd, path.join(dirs.dir, 'b'), undefined, [`--initial-cluster-token=${TOKEN}`]);
  deadPort = await freePort();
});

after(async () => {
  await memberA?.stop();
  await memberB?.stop();
  dirs?.cleanup();
});

/** Turns the test's "\udcXX" escapes into the raw bytes a shell would pass. */
function rawArg(a: string): Buffer {
  const parts: Buffer[] = [];
  for (const ch of a) {
    const c = ch.charCodeAt(0);
    parts.push(c >= 0xdc80 && c <= 0xdcff ? Buffer.from([c - 0xdc00]) : Buffer.from(ch, 'utf8'));
  }
  return Buffer.concat(parts);
}

/**
 * Runs a client with raw-byte arguments: node's spawn would re-encode them as UTF-8,
 * so they are passed through a shell with printf escapes.
 */
async function runRaw(bin: string, args: string[], stdin?: string | Buffer): Promise<Result> {
  const quoted = args.map((a) => `"$(printf '${[...rawArg(a)].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('')}')"`);
  return run('bash', ['-c', `exec ${bin} ${quoted.join(' ')}`], { stdin });
}

/** An ID as protobuf encodes it (a varint), read as latin1 text like the stdout it is in. */
function varint(n: bigint): string {
  const bytes: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    bytes.push(b);
  } while (n > 0n);
  return Buffer.from(bytes).toString('latin1');
}

function normalise(text: string, ports: number[], newIds: bigint[]): string {
  let t = text
    .split('\n')
    .filter((l) => !l.startsWith('{"level":')) // gRPC retry warnings, zap progress lines
    .join('\n')
    .replace(/\btsetcdctl\b/g, 'etcdctl')
    // etcd 3.5 reports the revision a hash covers; etcdctl 3.4 does not know the field
    .replace(/,"hash_revision":\d+/g, '');
  for (const p of ports) t = t.split(`127.0.0.1:${p}`).join('127.0.0.1:PORT');
  for (const id of newIds) {
    t = t.split(id.toString(16)).join('NEWID').split(id.toString()).join('NEWID').split(varint(id)).join('NEWID');
  }
  // %16x pads a short ID with spaces; a table's column is as wide as its widest ID
  t = t.replace(/ +NEWID/g, ' NEWID');
  if (t.includes('+--')) t = t.replace(/ +/g, ' ').replace(/-+/g, '-');
  return t;
}

function describe(r: Result): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.toString('latin1')}\n--- stderr\n${r.stderr}`;
}

/** The ID of the learner or unstarted member of a cluster, if there is one. */
async function newMemberId(endpoint: string): Promise<bigint | undefined> {
  const r = await run('etcdctl', [`--endpoints=${endpoint}`, 'member', 'list']);
  const line = r.stdout
    .toString('utf8')
    .split('\n')
    .find((l) => l !== '' && !l.startsWith(SELF));
  return line ? BigInt('0x' + line.split(',')[0]!) : undefined;
}

function assertSame(step: Step, ref: Result, ours: Result, ports: number[], ids: bigint[]): void {
  const label = `${step.args.join(' ')}\n== etcdctl: ${describe(ref)}\n== tsetcdctl: ${describe(ours)}`;
  assert.equal(ours.code, ref.code, `exit code differs: ${label}`);
  assert.equal(normalise(ours.stderr, ports, ids), normalise(ref.stderr, ports, ids), `stderr differs: ${label}`);
  if (step.usage) {
    assert.match(ours.stdout.toString('utf8'), /^NAME:\n\t/, `no usage page: ${label}`);
    return;
  }
  const shown = (r: Result): string => (step.decode ? goJson(step.decode.decode(r.stdout)) : r.stdout.toString('latin1'));
  assert.equal(normalise(shown(ours), ports, ids), normalise(shown(ref), ports, ids), `stdout differs: ${label}`);
}

test('a snapshot saved by tsetcdctl is byte for byte the one etcdctl saves', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const dir = path.join(dirs.dir, 'same-snap');
  fs.mkdirSync(dir);
  const ref = await run('etcdctl', [`--endpoints=${memberA.endpoint}`, 'snapshot', 'save', path.join(dir, 'ref.db')]);
  const ours = await run(BIN.tsetcdctl, [`--endpoints=${memberA.endpoint}`, 'snapshot', 'save', path.join(dir, 'ours.db')]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.equal(ours.code, 0, ours.stderr);
  const refBytes = fs.readFileSync(path.join(dir, 'ref.db'));
  const ourBytes = fs.readFileSync(path.join(dir, 'ours.db'));
  assert.ok(ourBytes.equals(refBytes), 'snapshot files differ');
  assert.equal(fs.statSync(path.join(dir, 'ours.db')).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['ours.db', 'ref.db'], 'a .part file was left behind');
});

test('cluster operations print what etcdctl prints, step by step', { skip: !enabled && 'etcdctl not installed' }, async () => {
  let steps = 0;
  // the member added last on each side, still named after it was removed
  const lastNew = new Map<Member, bigint>();
  for (const step of SESSION) {
    const ids: bigint[] = [];
    const argsFor = async (m: Member, side: string): Promise<string[]> => {
      let id: bigint | undefined;
      if (step.args.includes('{NEW}')) {
        id = (await newMemberId(m.endpoint)) ?? lastNew.get(m);
        assert.ok(id !== undefined, `no new member on ${side} for ${step.args.join(' ')}`);
      }
      const dir = path.join(dirs.dir, 'snaps');
      fs.mkdirSync(dir, { recursive: true });
      return [`--endpoints=${m.endpoint}`, ...step.args.map((a) => a.replace('{NEW}', id?.toString(16) ?? '').replace('{DIR}', dir))];
    };
    const a = memberA;
    const b = step.member === 'A' ? memberA : memberB;
    const ref = await runRaw('etcdctl', await argsFor(a, 'A'), step.stdin);
    const ours = await runRaw(BIN.tsetcdctl, await argsFor(b, 'B'), step.stdin);
    for (const m of [a, b]) {
      const id = (await newMemberId(m.endpoint)) ?? lastNew.get(m);
      if (id !== undefined) {
        ids.push(id);
        lastNew.set(m, id);
      }
    }
    assertSame(step, ref, ours, [memberA.clientPort, memberB.clientPort], ids);
    steps++;
    if (step.cross) {
      // the other tool reads (or writes) the other member: the same bytes must come back
      const refX = await runRaw('etcdctl', await argsFor(b, 'B'), step.stdin);
      const oursX = await runRaw(BIN.tsetcdctl, await argsFor(a, 'A'), step.stdin);
      assertSame(step, refX, oursX, [memberA.clientPort, memberB.clientPort], ids);
      steps++;
    }
  }
  assert.ok(steps >= SESSION.length);
});

test('against an unreachable endpoint the commands fail like etcdctl', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const dead = `127.0.0.1:${deadPort}`;
  await Promise.all(
    UNREACHABLE.map(async (args) => {
      const step: Step = { args: ['--command-timeout=700ms', '--dial-timeout=700ms', `--endpoints=${dead}`, ...args] };
      const ref = await run('etcdctl', step.args);
      const ours = await run(BIN.tsetcdctl, step.args);
      assertSame(step, ref, ours, [deadPort], []);
    }),
  );
});

test('with a dead endpoint among --endpoints, each command does what etcdctl does', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const dead = `127.0.0.1:${deadPort}`;
  const lines = (r: Result): Result => ({ ...r, stdout: Buffer.from(r.stdout.toString('latin1').split('\n').sort().join('\n'), 'latin1') });
  for (const args of [
    ['alarm', 'list'],
    ['alarm', 'list', '-w', 'json'],
    ['endpoint', 'hashkv'],
    ['endpoint', 'hashkv', '-w', 'table'],
    ['defrag'],
    ['member', 'list', '-w', 'table'],
    ['move-leader', '1234'],
    ['snapshot', 'save', path.join(dirs.dir, 'x.db')],
  ]) {
    for (const order of [`${dead},${memberA.endpoint}`, `${memberA.endpoint},${dead}`]) {
      const step: Step = { args: ['--command-timeout=1500ms', `--endpoints=${order}`, ...args] };
      const ref = await run('etcdctl', step.args);
      const ours = await run(BIN.tsetcdctl, step.args);
      assertSame(step, lines(ref), lines(ours), [deadPort, memberA.clientPort], []);
    }
  }
});

test('a raised NOSPACE alarm is listed and disarmed as etcdctl shows it', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const quota = ['--quota-backend-bytes=100000', `--initial-cluster-token=${TOKEN}`];
  const full = [await startMember(BIN.tsetcd, path.join(dirs.dir, 'qa'), undefined, quota), await startMember(BIN.tsetcd, path.join(dirs.dir, 'qb'), undefined, quota)];
  try {
    const big = Buffer.alloc(150_000, 'x');
    const steps: Step[] = [
      { args: ['put', 'big'], stdin: big },
      { args: ['put', 'small', 'v'] },
      ...allFormats('alarm', 'list'),
      s('get', 'big', '--keys-only'),
      s('alarm', 'disarm', '-w', 'json'),
      s('alarm', 'list'),
      s('alarm', 'disarm'),
    ];
    for (const step of steps) {
      const ref = await run('etcdctl', [`--endpoints=${full[0]!.endpoint}`, ...step.args], { stdin: step.stdin });
      const ours = await run(BIN.tsetcdctl, [`--endpoints=${full[1]!.endpoint}`, ...step.args], { stdin: step.stdin });
      assertSame(step, ref, ours, full.map((m) => m.clientPort), []);
    }
  } finally {
    for (const m of full) await m.stop();
  }
});
