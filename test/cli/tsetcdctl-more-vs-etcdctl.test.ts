// tsetcdctl's lease, user, role, auth, txn, watch, lock and elect commands against the
// real etcdctl 3.4: two tsetcd members started the same way (same IDs and history),
// etcdctl against member A and tsetcdctl against member B, run one session step by step.
// Every step must give the same stdout, stderr (etcdctl's gRPC log lines aside) and exit
// code. Lease IDs differ between the members: each step may capture one from its
// output, later steps use it as {NAME}, and outputs show it as <NAME>. Long-running
// commands (watch, keep-alive, lock, elect) are interrupted with SIGINT once they have
// printed what the step waits for. Where etcdctl 3.5 differs from the 3.4 binary, the
// 3.5 behaviour is checked on its own at the end, as is a watch across a member restart.
// GOLDEN_SERVER=etcd runs the session against two real etcd 3.4 members instead.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, cleanEnv, haveBinary, run, startMember, type Member, type Result } from './helpers.js';

interface Step {
  args: string[];
  stdin?: string;
  env?: Record<string, string>;
  /** stores the first group of this pattern in the step's stdout, per side (a decimal ID as hex) */
  capture?: [string, RegExp] | [string, RegExp, 'decimal'];
  /** a long-running command: SIGINT once stdout has this many lines */
  untilLines?: number;
  /** remaining TTLs differ by when each side ran: compare them as N */
  ttl?: boolean;
  /** the step prints a usage page (ours in wording): compare stderr and exit code only */
  usage?: boolean;
  /** lease IDs nobody captured (listings): compare every one as <ID> */
  anyLease?: boolean;
}

const s = (...args: string[]): Step => ({ args });
const w = (step: Step, extra: Partial<Step>): Step => ({ ...step, ...extra });
const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];
const eachFormat = (...args: string[]): Step[] => FORMATS.map((f) => s(...args, '-w', f));
const ROOT = ['--user=root:rootpw'];

const LEASE_STEPS: Step[] = [
  w(s('lease', 'grant', '600'), { capture: ['L1', /lease ([0-9a-f]+) granted/] }),
  w(s('lease', 'grant', '300', '-w', 'json'), { capture: ['J1', /"ID":(\d+)/, 'decimal'] }),
  w(s('lease', 'grant', '300', '-w', 'fields'), { capture: ['F1', /"ID" : (\d+)/, 'decimal'] }),
  s('lease', 'grant', '300', '-w', 'protobuf'),
  s('lease', 'grant', '300', '-w', 'table'),
  s('put', 'lk1', 'v', '--lease={L1}'),
  ...eachFormat('lease', 'timetolive', '{L1}').map((st) => w(st, { ttl: true })),
  // one attached key: etcd lists several in no particular order
  ...eachFormat('lease', 'timetolive', '{L1}', '--keys').map((st) => w(st, { ttl: true })),
  s('put', 'lk2', 'v', '--lease={L1}'),
  ...eachFormat('lease', 'keep-alive', '--once', '{L1}'),
  ...eachFormat('lease', 'timetolive', '1234'),
  s('lease', 'keep-alive', '1234'),
  s('lease', 'keep-alive', '1234', '-w', 'json'),
  s('lease', 'keep-alive', '--once', '1234'),
  w(s('lease', 'keep-alive', '{L1}'), { untilLines: 1 }),
  w(s('lease', 'keep-alive', '{L1}', '-w', 'fields'), { untilLines: 6 }),
  s('lease', 'revoke', '1234'),
  s('lease', 'revoke', 'zz'),
  s('lease', 'revoke'),
  s('lease', 'grant'),
  s('lease', 'grant', 'abc'),
  s('lease', 'grant', '1', '2'),
  s('lease', 'grant', '99999999999'),
  s('lease', 'timetolive'),
  s('lease', 'timetolive', 'xyz'),
  s('lease', 'keep-alive'),
  w(s('lease', 'grant', '-5'), { usage: true }),
  w(s('lease', 'timetolive', '{L1}', '--bogus'), { usage: true }),
  w(s('lease', 'grant', '60'), { capture: ['L2', /lease ([0-9a-f]+) granted/] }),
  w(s('lease', 'grant', '60'), { capture: ['L3', /lease ([0-9a-f]+) granted/] }),
  w(s('lease', 'grant', '60'), { capture: ['L4', /lease ([0-9a-f]+) granted/] }),
  s('lease', 'revoke', '{L2}'),
  s('lease', 'revoke', '{L3}', '-w', 'json'),
  s('lease', 'revoke', '{L4}', '-w', 'fields'),
  s('lease', 'revoke', '{L2}', '-w', 'protobuf'),
  s('lease', 'revoke', '{L1}'),
  s('get', 'lk', '--prefix'),
  s('lease', 'timetolive', '{L1}'),
  s('lease', 'keep-alive', '{L1}'),
];

/** leases made by every step above: listed, all IDs compared as <ID> */
const LEASE_LIST_STEPS: Step[] = eachFormat('lease', 'list').map((st) => w(st, { anyLease: true }));

const AUTH_STEPS: Step[] = [
  s('user', 'add', 'u1', '--new-user-password=pw1'),
  s('user', 'add', 'u2:pw2', '-w', 'json'),
  s('user', 'add', 'u3', '--new-user-password=pw3', '-w', 'fields'),
  s('user', 'add', 'u4', '--no-password', '-w', 'protobuf'),
  s('user', 'add', 'u5:pw5', '-w', 'table'),
  w(s('user', 'add', 'u6', '--interactive=false'), { stdin: 'pw6 and more\n' }),
  w(s('user', 'add', 'u7'), { stdin: 'pw7\npw7\n' }),
  w(s('user', 'add', 'u8'), { stdin: 'pw8\nother\n' }),
  w(s('user', 'add', 'u9'), { stdin: '\n' }),
  w(s('user', 'add', 'u9'), { stdin: '' }),
  w(s('user', 'passwd', 'u7'), { stdin: 'new7\nnew7\n' }),
  w(s('user', 'passwd', 'u7', '-w', 'fields'), { stdin: 'new7\nnew8\n' }),
  w(s('get', 'k1', '--user=u7'), { stdin: 'new7\n' }),
  s('user', 'add', 'u1', '--new-user-password=again'),
  s('user', 'add', ':nopw'),
  s('user', 'add'),
  s('user', 'add', 'a', 'b'),
  s('role', 'add', 'r1'),
  s('role', 'add', 'r2', '-w', 'json'),
  s('role', 'add', 'r3', '-w', 'fields'),
  s('role', 'add', 'r4', '-w', 'protobuf'),
  s('role', 'add', 'r5', '-w', 'table'),
  s('role', 'add', 'r1'),
  s('role', 'add'),
  s('role', 'grant-permission', 'r1', 'read', 'k1'),
  s('role', 'grant-permission', 'r1', 'write', 'k2', 'k5', '-w', 'json'),
  s('role', 'grant-permission', 'r1', 'readwrite', 'pre', '--prefix', '-w', 'fields'),
  s('role', 'grant-permission', 'r1', 'READ', 'from', '--from-key', '-w', 'protobuf'),
  s('role', 'grant-permission', 'r1', 'Write', '', '--prefix'),
  s('role', 'grant-permission', 'r2', 'read', 'x', '-w', 'table'),
  s('role', 'grant-permission', 'r1', 'sideways', 'k'),
  s('role', 'grant-permission', 'r1', 'read'),
  s('role', 'grant-permission', 'r1', 'read', 'k', 'e', '--prefix'),
  s('role', 'grant-permission', 'r1', 'read', 'k', 'e', '--from-key'),
  s('role', 'grant-permission', 'r1', 'read', 'k', '--from-key', '--prefix'),
  s('role', 'grant-permission', 'r1', 'read', '', '--from-key', '--prefix'),
  s('role', 'grant-permission', 'nope', 'read', 'k'),
  ...eachFormat('role', 'get', 'r1'),
  s('role', 'get', 'nope'),
  s('role', 'get'),
  ...eachFormat('role', 'list'),
  s('role', 'list', 'extra'),
  s('user', 'grant-role', 'u1', 'r1'),
  s('user', 'grant-role', 'u1', 'r2', '-w', 'json'),
  s('user', 'grant-role', 'u2', 'r1', '-w', 'fields'),
  s('user', 'grant-role', 'u3', 'r1', '-w', 'protobuf'),
  s('user', 'grant-role', 'u4', 'r1', '-w', 'table'),
  s('user', 'grant-role', 'u1', 'nope'),
  s('user', 'grant-role', 'nope', 'r1'),
  s('user', 'grant-role', 'u1'),
  ...eachFormat('user', 'get', 'u1'),
  ...eachFormat('user', 'get', 'u1', '--detail'),
  s('user', 'get', 'nope'),
  s('user', 'get'),
  ...eachFormat('user', 'list'),
  s('user', 'list', 'extra'),
  w(s('user', 'passwd', 'u2', '--interactive=false'), { stdin: 'newpw2\n' }),
  w(s('user', 'passwd', 'u2', '--interactive=false', '-w', 'json'), { stdin: 'newpw2\n' }),
  w(s('user', 'passwd', 'nope', '--interactive=false'), { stdin: 'x\n' }),
  s('user', 'passwd'),
  s('user', 'revoke-role', 'u1', 'r2'),
  s('user', 'revoke-role', 'u1', 'r2'),
  s('user', 'revoke-role', 'u2', 'r1', '-w', 'json'),
  s('user', 'revoke-role', 'u1'),
  s('role', 'revoke-permission', 'r1', 'k1'),
  s('role', 'revoke-permission', 'r1', 'k2', 'k5', '-w', 'json'),
  s('role', 'revoke-permission', 'r1', 'pre', '--prefix'),
  s('role', 'revoke-permission', 'r1', 'from', '--from-key', '-w', 'fields'),
  s('role', 'revoke-permission', 'r1', '', '--prefix'),
  s('role', 'revoke-permission', 'r1', 'k1'),
  s('role', 'revoke-permission', 'r1'),
  s('role', 'get', 'r1'),
  s('user', 'delete', 'u5'),
  s('user', 'delete', 'u6', '-w', 'json'),
  s('user', 'delete', 'u5'),
  s('user', 'delete'),
  s('role', 'delete', 'r5'),
  s('role', 'delete', 'r4', '-w', 'fields'),
  s('role', 'delete', 'r5'),
  s('role', 'delete'),
  // authentication on
  s('auth', 'enable'),
  s('user', 'add', 'root', '--new-user-password=rootpw'),
  s('auth', 'enable'),
  s('auth', 'enable'),
  s('auth', 'enable', 'extra'),
  s('user', 'list'),
  s('put', 'k1', 'v'),
  s('put', 'k1', 'v', ...ROOT),
  s('user', 'list', ...ROOT),
  s('role', 'get', 'root', ...ROOT),
  s('user', 'get', 'root', '--detail', ...ROOT),
  s('get', 'k1', '--user=u1:pw1'),
  s('put', 'k1', 'x', '--user=u1:pw1'),
  s('put', 'k3', 'x', '--user=u1:pw1'),
  s('get', 'k1', '--user=u1:wrong'),
  s('get', 'k1', '--user=nobody:pw'),
  s('get', 'k1', '--user=u1', '--password=pw1'),
  s('user', 'list', '--user=u1:pw1'),
  w(s('lease', 'grant', '60', '--user=u1:pw1'), { capture: ['L6', /lease ([0-9a-f]+) granted/] }),
  s('auth', 'disable', '--user=u1:pw1'),
  s('auth', 'disable', 'extra', ...ROOT),
  s('auth', 'disable', ...ROOT),
  s('auth', 'disable'),
  s('user', 'delete', 'root'),
];

const TXN_STEPS: Step[] = [
  s('put', 'tk', '1'),
  ...['simple', 'json', 'fields', 'protobuf'].map((f) =>
    w(s('txn', '-w', f), { stdin: 'mod("tk") > "0"\nver("tk") < "1000"\nc("tk") != "0"\n\nput tk 2 --prev-kv\nget tk\ndel nothing\n\nput tk x\n\n' }),
  ),
  ...['simple', 'json', 'fields', 'protobuf'].map((f) => w(s('txn', '-w', f), { stdin: 'value("tk") = "nope"\n\nput tk 3\n\nget tk --prefix\ndel zz --prev-kv\n\n' })),
  w(s('txn', '-w', 'table'), { stdin: '\n\n\n' }),
  w(s('txn', '-i'), { stdin: 'val("tk") = "2"\n\nput "sp ace" "a\\tb"\n\n\n' }),
  w(s('txn', '-i', '-w', 'json'), { stdin: '\nget "sp ace"\n\n\n' }),
  w(s('txn', '--interactive'), { stdin: 'version("tk") > "1"\ncreate("tk") = "0"\n\n\nget tk --keys-only\n\n' }),
  w(s('txn', '--hex'), { stdin: '\nget tk\n\n\n' }),
  w(s('txn'), { stdin: 'mod("tk") = `2`\n\nput `raw` v\n\n\n' }),
  w(s('txn'), { stdin: '\ndel tk --prefix --prev-kv\n\n\n' }),
  w(s('txn'), { stdin: '' }),
  w(s('txn'), { stdin: '\n' }),
  w(s('txn'), { stdin: '\n\n' }),
  w(s('txn'), { stdin: '\n\nput a b' }),
  w(s('txn', '-i'), { stdin: '\n\n' }),
  w(s('txn'), { stdin: 'bad\n\n\n' }),
  w(s('txn'), { stdin: 'mod("k")\n\n\n' }),
  w(s('txn'), { stdin: 'mod("k")="1"\n\n\n' }),
  w(s('txn'), { stdin: 'mod(k) = "1"\n\n\n' }),
  w(s('txn'), { stdin: 'foo("k") = "1"\n\n\n' }),
  w(s('txn'), { stdin: 'mod("k") = "x"\n\n\n' }),
  w(s('txn'), { stdin: 'val("k\\q") = "1"\n\n\n' }),
  w(s('txn'), { stdin: '\nput a\n\n\n' }),
  w(s('txn'), { stdin: '\nput\n\n\n' }),
  w(s('txn'), { stdin: '\nfoo bar\n\n\n' }),
  w(s('txn'), { stdin: '\nget --prefix\n\n\n' }),
  w(s('txn'), { stdin: '\nget "unterminated\n\n\n' }),
  w(s('txn'), { stdin: '\ndel a b c\n\n\n' }),
  w(s('txn'), { stdin: '\nput k v --lease=zz\n\n\n' }),
  w(s('txn'), { stdin: '\nput k v --ignore-value\n\n\n' }),
  s('txn', 'extra'),
];

const WATCH_STEPS: Step[] = [
  s('put', 'wk', 'v1'),
  s('put', 'wk', 'v2'),
  s('del', 'wk'),
  s('put', 'wk2', 'other'),
  w(s('get', 'wk2', '-w', 'json'), { capture: ['R', /"revision":(\d+)/] }),
  ...['simple', 'json', 'fields', 'protobuf'].map((f) => w(s('watch', '--rev=1', 'wk', '-w', f), { untilLines: f === 'fields' ? 25 : f === 'simple' ? 9 : 1 })),
  w(s('watch', '--rev=1', 'wk', '--prev-kv'), { untilLines: 13 }),
  w(s('watch', '--rev=1', 'wk', '--prefix'), { untilLines: 12 }),
  w(s('watch', '--rev=1', 'wk', 'wk3', '--hex'), { untilLines: 12 }),
  w(s('watch', '--rev=1', 'wk2', '--', 'sh', '-c', 'echo "$ETCD_WATCH_REVISION $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"'), { untilLines: 4 }),
  w(s('watch', '--rev=1', 'wk'), { untilLines: 9, env: { ETCDCTL_WATCH_KEY: 'wk2' } }),
  w(s('watch', '--rev=1'), { untilLines: 3, env: { ETCDCTL_WATCH_KEY: 'wk2' } }),
  w(s('watch', '--rev=1'), { untilLines: 12, env: { ETCDCTL_WATCH_KEY: 'wk', ETCDCTL_WATCH_RANGE_END: 'wk3' } }),
  s('watch', '--rev=1', 'wk', '--', 'false'),
  s('watch', '--rev=1', 'wk', '--', 'no-such-command-here'),
  s('watch', '--rev=1', 'wk', '-w', 'table'),
  s('watch', '--rev=1', 'wk', 'a'),
  s('watch', '--rev=1', 'wk', 'a', '-w', 'json'),
  s('watch', '--rev=1', 'wk', 'a', '-w', 'fields'),
  s('watch'),
  s('watch', '--prefix'),
  s('watch', 'a', '--'),
  s('watch', 'a', 'b', '--prefix'),
  w(s('watch', 'a'), { env: { ETCDCTL_WATCH_RANGE_END: 'b' } }),
  w(s('watch', 'a', 'b'), { env: { ETCDCTL_WATCH_KEY: 'x' } }),
  w(s('watch', '-i'), { stdin: '' }),
  w(s('watch', '-i'), { stdin: '\nfoo bar\nwatch\nwatch a b --prefix\n' }),
  w(s('watch', '-i'), { stdin: 'watch "bad\n' }),
  w(s('watch', '-i'), { stdin: 'watch a -- \n' }),
  w(s('watch', '-i'), { stdin: 'watch --bogus a\n' }),
  w(s('watch', '--bogus'), { usage: true }),
  w(s('watch', '--rev=x', 'a'), { usage: true }),
  s('compaction', '{R}'),
  ...['simple', 'json', 'fields', 'protobuf'].map((f) => s('watch', '--rev=2', 'wk', '-w', f)),
];

const LOCK_ELECT_STEPS: Step[] = [
  w(s('lock', 'mylock'), { untilLines: 2 }),
  w(s('lock', 'mylock', '-w', 'fields'), { untilLines: 12 }),
  s('lock', 'mylock', '--', 'sh', '-c', 'echo "held $ETCD_LOCK_KEY at $ETCD_LOCK_REV"'),
  s('lock', 'mylock', '--ttl=5', '--', 'true'),
  s('lock', 'mylock', '--', 'no-such-command-here'),
  s('lock'),
  w(s('lock', 'mylock', '--ttl=x'), { usage: true }),
  w(s('elect', 'myelection', 'prop1'), { untilLines: 2 }),
  w(s('elect', 'myelection', 'prop2', '-w', 'fields'), { untilLines: 12 }),
  s('elect'),
  s('elect', 'myelection'),
  s('elect', '-l', 'myelection', 'prop'),
  s('elect', 'a', 'b', 'c'),
];

let dirs: { dir: string; cleanup: () => void };
let memberA: Member;
let memberB: Member;
const enabled = haveBinary('etcdctl');

before(async () => {
  if (!enabled) return;
  dirs = tempDir('tsetcdctl-more-');
  // GOLDEN_SERVER=etcd runs the same session against two real etcd members
  const server = process.env['GOLDEN_SERVER'] === 'etcd' ? 'etcd' : BIN.tsetcd;
  memberA = await startMember(server, path.join(dirs.dir, 'a'));
  memberB = await startMember(server, path.join(dirs.dir, 'b'));
});

after(async () => {
  await memberA?.stop();
  await memberB?.stop();
  dirs?.cleanup();
});

/** Runs a long-running command until stdout has `lines` lines, then interrupts it. */
function runUntil(bin: string, args: string[], lines: number, env: Record<string, string>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { env: { ...cleanEnv(), ...env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let signalled = false;
    // a safety net only: a step that never prints enough shows up as a difference
    const giveUp = setTimeout(() => {
      if (process.env['GOLDEN_DEBUG']) console.error('GAVE UP', args.join(' '), Buffer.concat(out).toString('latin1').split('\n').length - 1);
      proc.kill('SIGINT');
    }, Number(process.env['GOLDEN_GIVE_UP_MS'] ?? 30000));
    proc.stdout.on('data', (d: Buffer) => {
      out.push(d);
      const count = Buffer.concat(out).toString('latin1').split('\n').length - 1;
      if (!signalled && count >= lines) {
        signalled = true;
        proc.kill('SIGINT');
      }
    });
    proc.stderr.on('data', (d: Buffer) => err.push(d));
    proc.once('error', reject);
    proc.once('close', (code, signal) => {
      clearTimeout(giveUp);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code, signal });
    });
    proc.stdin.end();
  });
}

type Vars = Map<string, string>;

function substitute(text: string, vars: Vars): string {
  return text.replace(/\{([A-Z0-9]+)\}/g, (m, name: string) => vars.get(name) ?? m);
}

function normalise(text: string, vars: Vars, port: number, step: Step): string {
  let t = text
    .split('\n')
    .filter((l) => !l.startsWith('{"level":'))
    .join('\n')
    .replace(/\btsetcdctl\b/g, 'etcdctl')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}/g, 'TIMESTAMP')
    .split(`127.0.0.1:${port}`)
    .join('127.0.0.1:PORT');
  for (const [name, value] of vars) {
    if (!/^[0-9a-f]{8,}$/.test(value)) continue;
    t = t.split(value.padStart(16, '0')).join(`<${name}>`).split(value).join(`<${name}>`).split(BigInt('0x' + value).toString()).join(`<${name}>`);
  }
  // keys of lock and election sessions end in their lease ID
  t = t.replace(/(mylock|myelection)\/[0-9a-f]+/g, '$1/<LEASE>').replace(/"Lease" : \d+/g, '"Lease" : <LEASE>');
  if (step.anyLease) t = t.replace(/\b[0-9a-f]{16}\b/g, '<ID>').replace(/"id":\d+/g, '"id":<ID>').replace(/"ID" : \d+/g, '"ID" : <ID>');
  if (step.ttl) t = t.replace(/remaining\(\d+s\)/g, 'remaining(Ns)').replace(/"ttl":\d+/g, '"ttl":N').replace(/"TTL" : \d+/g, '"TTL" : N');
  return t;
}

function describe(r: Result): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout.toString('latin1')}\n--- stderr\n${r.stderr}`;
}

interface Side {
  bin: string;
  member: () => Member;
  vars: Vars;
}

async function runStep(side: Side, step: Step): Promise<Result> {
  const args = [`--endpoints=${side.member().endpoint}`, ...step.args.map((a) => substitute(a, side.vars))];
  const stdin = step.stdin !== undefined ? substitute(step.stdin, side.vars) : undefined;
  if (step.untilLines !== undefined) return runUntil(side.bin, args, step.untilLines, step.env ?? {});
  let r = await run(side.bin, args, { env: step.env ?? {}, stdin });
  // killed from outside (other suites clean up with pkill): once more
  if (r.signal !== null) r = await run(side.bin, args, { env: step.env ?? {}, stdin });
  return r;
}

function capture(side: Side, step: Step, r: Result): void {
  if (!step.capture) return;
  const [name, re, kind] = step.capture;
  const m = re.exec(r.stdout.toString('latin1'));
  if (m) side.vars.set(name, kind === 'decimal' ? BigInt(m[1]!).toString(16) : m[1]!);
}

/** What etcdctl 3.4 prints differently from 3.5, whose behaviour tsetcdctl follows. */
function to35(stderr: string): string {
  return stderr.replace('Error: Error reading watch request line', 'Error: error reading watch request line');
}

async function compareSession(steps: Step[], a: Side, b: Side): Promise<number> {
  let count = 0;
  for (const step of steps) {
    const [ref, ours] = await Promise.all([runStep(a, step), runStep(b, step)]);
    capture(a, step, ref);
    capture(b, step, ours);
    count++;
    const label = `tsetcdctl ${step.args.join(' ')} ${JSON.stringify(step.env ?? {})}\n== etcdctl: ${describe(ref)}\n== tsetcdctl: ${describe(ours)}`;
    assert.equal(ours.code, ref.code, `exit code differs: ${label}`);
    assert.equal(ours.signal, ref.signal, `signal differs: ${label}`);
    const pa = memberA.clientPort;
    const pb = memberB.clientPort;
    assert.equal(normalise(ours.stderr, b.vars, pb, step), normalise(to35(ref.stderr), a.vars, pa, step), `stderr differs: ${label}`);
    if (step.usage) continue;
    assert.equal(normalise(ours.stdout.toString('latin1'), b.vars, pb, step), normalise(ref.stdout.toString('latin1'), a.vars, pa, step), `stdout differs: ${label}`);
  }
  return count;
}

test('lease, user, role, auth, txn, watch, lock and elect print what etcdctl prints', { skip: !enabled && 'etcdctl not installed' }, async (t) => {
  const a: Side = { bin: 'etcdctl', member: () => memberA, vars: new Map() };
  const b: Side = { bin: BIN.tsetcdctl, member: () => memberB, vars: new Map() };
  let n = 0;
  n += await compareSession(LEASE_STEPS, a, b);
  n += await compareSession(AUTH_STEPS, a, b);
  n += await compareSession(TXN_STEPS, a, b);
  n += await compareSession(WATCH_STEPS, a, b);
  n += await compareSession(LOCK_ELECT_STEPS, a, b);
  n += await compareSession(LEASE_LIST_STEPS, a, b);
  t.diagnostic(`${n} invocations compared`);
  assert.ok(n >= 150, `only ${n} invocations compared`);
});

// ---- where etcdctl 3.5 differs from the 3.4 binary -------------------------------------

async function ours(args: string[], stdin?: string): Promise<Result> {
  return run(BIN.tsetcdctl, [`--endpoints=${memberB.endpoint}`, ...args], { stdin });
}

test('auth status (3.5): enabled flag and auth revision; no fields or table form', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const simple = await ours(['auth', 'status']);
  assert.equal(simple.code, 0, describe(simple));
  const m = /^Authentication Status: false\nAuthRevision: (\d+)\n$/.exec(simple.stdout.toString());
  assert.ok(m, describe(simple));
  const json = await ours(['auth', 'status', '-w', 'json']);
  const parsed = JSON.parse(json.stdout.toString()) as { header: object; authRevision?: number };
  assert.ok(parsed.header);
  assert.equal(String(parsed.authRevision ?? 0), m[1]);
  for (const f of ['fields', 'table']) {
    const r = await ours(['auth', 'status', '-w', f]);
    assert.equal(r.code, 4);
    assert.equal(r.stderr, `Error: ${f} not supported as output format\n`);
  }
  const extra = await ours(['auth', 'status', 'x']);
  assert.equal(extra.code, 128);
  assert.equal(extra.stderr, 'Error: auth status command does not accept any arguments\n');
});

test('lock (3.5): exits with the status of the command it ran', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const r = await ours(['lock', 'statuslock', '--', 'sh', '-c', 'echo "$ETCD_LOCK_KEY"; exit 7']);
  assert.equal(r.code, 7, describe(r));
  assert.match(r.stdout.toString(), /^statuslock\/[0-9a-f]+\n$/);
  assert.equal(r.stderr, 'Error: exit status 7\n');
});

test("txn (3.5): a 'single-quoted' word loses only its quotes", { skip: !enabled && 'etcdctl not installed' }, async () => {
  const r = await ours(['txn'], "\nput 'quoted key' 'v w'\n\n\n");
  assert.equal(r.code, 0, describe(r));
  const got = await ours(['get', 'quoted key', '--print-value-only']);
  assert.equal(got.stdout.toString(), 'v w\n');
});

test('elect -l follows the leaders of an election etcdctl campaigns in', { skip: !enabled && 'etcdctl not installed' }, async () => {
  const leader = spawn('etcdctl', [`--endpoints=${memberB.endpoint}`, 'elect', 'observed', 'first-proposal'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const seen = await runUntil(BIN.tsetcdctl, [`--endpoints=${memberB.endpoint}`, 'elect', '-l', 'observed'], 2, {});
    assert.equal(seen.signal ?? String(seen.code), '0', describe(seen));
    assert.match(seen.stdout.toString(), /^observed\/[0-9a-f]+\nfirst-proposal\n$/);
  } finally {
    leader.kill('SIGINT');
  }
});

test('watch carries on across a member restart, resuming after its last event', { skip: !enabled && 'etcdctl not installed', timeout: 120000 }, async () => {
  const dir = tempDir('tsetcdctl-resume-');
  let member = await startMember(BIN.tsetcd, path.join(dir.dir, 'm'));
  const endpoint = member.endpoint;
  const put = (v: string): Promise<Result> => run('etcdctl', [`--endpoints=${endpoint}`, 'put', 'rk', v]);
  const proc = spawn(BIN.tsetcdctl, [`--endpoints=${endpoint}`, 'watch', 'rk', '--rev=1'], { env: cleanEnv() });
  let out = '';
  const lines = (): number => out.split('\n').length - 1;
  const seen = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => void (lines() >= n ? resolve() : setTimeout(check, 50));
      check();
    });
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    assert.equal((await put('before')).code, 0);
    await seen(3);
    await member.stop();
    member = await startMember(BIN.tsetcd, path.join(dir.dir, 'm'), Number(endpoint.split(':')[1]));
    assert.equal((await put('after')).code, 0);
    await seen(6);
    assert.equal(out, 'PUT\nrk\nbefore\nPUT\nrk\nafter\n');
  } finally {
    proc.kill('SIGINT');
    await member.stop();
    dir.cleanup();
  }
});
