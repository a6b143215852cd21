// etcdctl's user, role and auth commands, and what auth does to ordinary requests, run
// against real etcd 3.4 (which must print exactly the outputs written below) and against
// tsetcd started the same way (which must print what etcd printed). Plus the identity a
// verified client certificate's CN gives under --client-cert-auth.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, type CtlResult, type MemberPorts } from './harness.js';
import { makePki, type TestPki } from './pki-helpers.js';

const noEtcd = !haveBinary('etcd') && 'etcd is not installed';

interface Step {
  args: string[];
  stdin?: string;
  /** what etcd 3.4 prints: stdout, or an error line on stderr */
  out?: string;
  err?: string;
  /** exit code with `err`: 1, or 2 when etcdctl could not even log in */
  code?: number;
}

const ok = (out: string, ...args: string[]): Step => ({ args, out });
const fails = (err: string, ...args: string[]): Step => ({ args, err });
/** etcdctl logs in while it connects: a refused login is a connection failure (exit 2) */
const loginFails = (err: string, ...args: string[]): Step => ({ args, err, code: 2 });
const BAD_LOGIN = 'Error: etcdserver: authentication failed, invalid user ID or password';
const ROOT = '--user=root:rootpw';
const ALICE = '--user=alice:alicepw';

const SESSION: Step[] = [
  fails('Error: etcdserver: root user does not exist', 'auth', 'enable'),
  ok('User root created\n', 'user', 'add', 'root', '--new-user-password=rootpw'),
  ok('User alice created\n', 'user', 'add', 'alice:alicepw'),
  fails('Error: etcdserver: user name already exists', 'user', 'add', 'alice', '--new-user-password=x'),
  ok('User carol created\n', 'user', 'add', 'carol', '--no-password'),
  ok('Role reader created\n', 'role', 'add', 'reader'),
  fails('Error: etcdserver: role name already exists', 'role', 'add', 'reader'),
  ok('Role reader updated\n', 'role', 'grant-permission', 'reader', 'read', 'foo', '--prefix'),
  ok('Role reader updated\n', 'role', 'grant-permission', 'reader', 'readwrite', 'bar'),
  ok('Role reader updated\n', 'role', 'grant-permission', 'reader', 'write', 'zzz', '--from-key'),
  ok('Role reader updated\n', 'role', 'grant-permission', 'reader', 'read', 'k1', 'k5'),
  fails('Error: etcdserver: role name not found', 'role', 'grant-permission', 'nosuch', 'read', 'x'),
  // permissions come sorted by key
  ok('Role reader\nKV Read:\n\tbar\n\t[foo, fop) (prefix foo)\n\t[k1, k5)\nKV Write:\n\tbar\n\t[zzz, <open ended>\n', 'role', 'get', 'reader'),
  fails('Error: etcdserver: role name not found', 'role', 'get', 'nosuch'),
  ok('Role reader is granted to user alice\n', 'user', 'grant-role', 'alice', 'reader'),
  fails('Error: etcdserver: role name not found', 'user', 'grant-role', 'alice', 'nosuch'),
  fails('Error: etcdserver: user name not found', 'user', 'grant-role', 'nobody', 'reader'),
  ok('User: alice\nRoles: reader\n', 'user', 'get', 'alice'),
  ok('User: root\nRoles:\n', 'user', 'get', 'root'),
  fails('Error: etcdserver: user name not found', 'user', 'get', 'nobody'),
  ok('alice\ncarol\nroot\n', 'user', 'list'),
  ok('reader\n', 'role', 'list'),
  ok('OK\n', 'put', 'foo1', 'v1'),
  ok('OK\n', 'put', 'k2', 'v2'),
  ok('Authentication Enabled\n', 'auth', 'enable'),
  ok('Role root\nKV Read:\nKV Write:\n', ROOT, 'role', 'get', 'root'),
  ok('User: root\nRoles: root\n', ROOT, 'user', 'get', 'root'),
  fails('Error: etcdserver: user name is empty', 'put', 'foo1', 'x'),
  fails('Error: etcdserver: user name is empty', 'get', 'foo1'),
  ok('foo1\nv1\n', ALICE, 'get', 'foo1'),
  ok('foo1\nv1\n', ALICE, 'get', 'foo', '--prefix'),
  ok('k2\nv2\n', ALICE, 'get', 'k1', 'k5'),
  fails('Error: etcdserver: permission denied', ALICE, 'get', 'f', '--prefix'),
  fails('Error: etcdserver: permission denied', ALICE, 'get', 'k1', 'k6'),
  fails('Error: etcdserver: permission denied', ALICE, 'put', 'foo1', 'x'),
  ok('OK\n', ALICE, 'put', 'bar', 'b'),
  ok('bar\nb\n', ALICE, 'get', 'bar'),
  ok('OK\n', ALICE, 'put', 'zzz9', 'z'),
  fails('Error: etcdserver: permission denied', ALICE, 'get', 'zzz9'),
  fails('Error: etcdserver: permission denied', ALICE, 'del', 'zzz', '--from-key', '--prev-kv'),
  ok('1\n', ALICE, 'del', 'zzz', '--from-key'),
  // a refused watch is created and canceled at once; the reason is the whole gRPC status
  { args: [ALICE, 'watch', 'zzz9'], err: 'watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)\nError: watch is canceled by the server', code: 5 },
  { args: ['watch', 'foo1'], err: 'watch was canceled (rpc error: code = InvalidArgument desc = etcdserver: user name is empty)\nError: watch is canceled by the server', code: 5 },
  loginFails(BAD_LOGIN, '--user=alice:wrong', 'get', 'foo1'),
  loginFails(BAD_LOGIN, '--user=nobody:x', 'get', 'foo1'),
  fails('Error: etcdserver: permission denied', ALICE, 'user', 'list'),
  fails('Error: etcdserver: permission denied', ALICE, 'role', 'add', 'x'),
  fails('Error: etcdserver: permission denied', ALICE, 'auth', 'disable'),
  ok('User: alice\nRoles: reader\n', ALICE, 'user', 'get', 'alice'),
  fails('Error: etcdserver: permission denied', ALICE, 'user', 'get', 'root'),
  ok('Role reader\nKV Read:\n\tbar\n\t[foo, fop) (prefix foo)\n\t[k1, k5)\nKV Write:\n\tbar\n\t[zzz, <open ended>\n', ALICE, 'role', 'get', 'reader'),
  fails('Error: etcdserver: permission denied', ALICE, 'role', 'get', 'root'),
  ok('alice\ncarol\nroot\n', ROOT, 'user', 'list'),
  ok('reader\nroot\n', ROOT, 'role', 'list'),
  fails('Error: etcdserver: invalid auth management', ROOT, 'user', 'delete', 'root'),
  fails('Error: etcdserver: invalid auth management', ROOT, 'user', 'revoke-role', 'root', 'root'),
  fails('Error: etcdserver: invalid auth management', ROOT, 'role', 'delete', 'root'),
  { args: [ROOT, 'user', 'passwd', 'alice', '--interactive=false'], stdin: 'newpw\n', out: 'Password updated\n' },
  loginFails(BAD_LOGIN, ALICE, 'get', 'foo1'),
  ok('foo1\nv1\n', '--user=alice:newpw', 'get', 'foo1'),
  ok('Permission of range [foo, fop) is revoked from role reader\n', ROOT, 'role', 'revoke-permission', 'reader', 'foo', '--prefix'),
  fails('Error: etcdserver: permission is not granted to the role', ROOT, 'role', 'revoke-permission', 'reader', 'foo', '--prefix'),
  fails('Error: etcdserver: permission denied', '--user=alice:newpw', 'get', 'foo1'),
  ok('Role reader is revoked from user alice\n', ROOT, 'user', 'revoke-role', 'alice', 'reader'),
  fails('Error: etcdserver: role is not granted to the user', ROOT, 'user', 'revoke-role', 'alice', 'reader'),
  ok('Authentication Disabled\n', ROOT, 'auth', 'disable'),
  ok('OK\n', 'put', 'foo1', 'after'),
  ok('foo1\nafter\n', '--user=alice:newpw', 'get', 'foo1'),
  ok('User alice deleted\n', 'user', 'delete', 'alice'),
  ok('Role reader deleted\n', 'role', 'delete', 'reader'),
  ok('User root deleted\n', 'user', 'delete', 'root'),
];

function expected(step: Step): CtlResult {
  return step.err !== undefined ? { stdout: '', stderr: `${step.err}\n`, code: step.code ?? 1 } : { stdout: step.out ?? '', stderr: '', code: 0 };
}

function label(step: Step): string {
  return `etcdctl ${step.args.join(' ')}${step.stdin ? ` <<< ${JSON.stringify(step.stdin)}` : ''}`;
}

/** one line per step, so a failure shows every step that differs, each with its command */
function labelled(steps: Step[], results: CtlResult[]): string[] {
  return steps.map((step, i) => `${label(step)}\n  => ${JSON.stringify(results[i])}`);
}

async function runSession(bin: string, dataDir: string, ports: MemberPorts): Promise<CtlResult[]> {
  const member = await startMember({ bin, dataDir, ports });
  try {
    const out: CtlResult[] = [];
    for (const step of SESSION) out.push(await etcdctl(member.clientUrl, step.args, step.stdin));
    return out;
  } finally {
    await member.stop();
  }
}

test('etcd 3.4: etcdctl user/role/auth commands print what this file expects', { skip: noEtcd }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const got = await runSession('etcd', path.join(dir, 'etcd'), await freePorts());
    assert.deepEqual(labelled(SESSION, got), labelled(SESSION, SESSION.map(expected)));
  } finally {
    cleanup();
  }
});

test('tsetcd: the auth session prints what etcd 3.4 prints', { skip: noEtcd }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ports = await freePorts();
    const want = await runSession('etcd', path.join(dir, 'etcd'), ports);
    const got = await runSession(TSETCD_BIN, path.join(dir, 'tsetcd'), ports);
    assert.deepEqual(labelled(SESSION, got), labelled(SESSION, want));
  } finally {
    cleanup();
  }
});

// ---- identity from the client certificate ---------------------------------------------

interface TlsMember {
  endpoint: string;
  stop(): Promise<void>;
}

async function startTlsMember(bin: string, dir: string, pki: TestPki, ports: MemberPorts): Promise<TlsMember> {
  const ep = `https://127.0.0.1:${ports.client}`;
  const log = fs.openSync(`${dir}.log`, 'a');
  const proc: ChildProcess = spawn(
    bin,
    [
      `--data-dir=${dir}`,
      `--listen-client-urls=${ep}`,
      `--advertise-client-urls=${ep}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
      `--initial-cluster=default=http://127.0.0.1:${ports.peer}`,
      '--client-cert-auth',
      `--trusted-ca-file=${pki.ca}`,
      `--cert-file=${pki.server.cert}`,
      `--key-file=${pki.server.key}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const member = {
    endpoint: ep,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + 20000;
  for (;;) {
    const r = await etcdctl(ep, [...certFlags(pki), 'endpoint', 'health']);
    if (r.code === 0) return member;
    if (Date.now() > deadline || proc.exitCode !== null) {
      await member.stop();
      throw new Error(`${bin} with client TLS did not become healthy: ${r.stderr}\n${fs.readFileSync(`${dir}.log`, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function certFlags(pki: TestPki): string[] {
  return [`--cacert=${pki.ca}`, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`];
}

/** The client certificate's CN is "alice"; root logs in with a password over the same TLS. */
function cnSession(pki: TestPki): Step[] {
  const tls = certFlags(pki);
  const s = (step: Step): Step => ({ ...step, args: [...tls, ...step.args] });
  return [
    ok('User root created\n', 'user', 'add', 'root', '--new-user-password=rootpw'),
    ok('User alice created\n', 'user', 'add', 'alice', '--no-password'),
    ok('Role app created\n', 'role', 'add', 'app'),
    ok('Role app updated\n', 'role', 'grant-permission', 'app', 'readwrite', 'app/', '--prefix'),
    ok('Role app is granted to user alice\n', 'user', 'grant-role', 'alice', 'app'),
    ok('Authentication Enabled\n', 'auth', 'enable'),
    // no --user: the certificate says who is calling
    ok('OK\n', 'put', 'app/x', '1'),
    ok('app/x\n1\n', 'get', 'app/', '--prefix'),
    fails('Error: etcdserver: permission denied', 'put', 'other', '1'),
    fails('Error: etcdserver: permission denied', 'user', 'list'),
    ok('User: alice\nRoles: app\n', 'user', 'get', 'alice'),
    // a token wins over the certificate
    ok('alice\nroot\n', ROOT, 'user', 'list'),
    // etcd has no gRPC code for this one: Unknown, with the auth package's own text
    loginFails('Error: rpc error: code = Unknown desc = auth: authentication failed, password was given for no password user', '--user=alice:x', 'get', 'app/x'),
    ok('Authentication Disabled\n', ROOT, 'auth', 'disable'),
  ].map(s);
}

async function runCnSession(bin: string, dir: string, pki: TestPki, ports: MemberPorts): Promise<[Step[], CtlResult[]]> {
  const steps = cnSession(pki);
  const member = await startTlsMember(bin, dir, pki, ports);
  try {
    const out: CtlResult[] = [];
    for (const step of steps) out.push(await etcdctl(member.endpoint, step.args, step.stdin));
    return [steps, out];
  } finally {
    await member.stop();
  }
}

test('etcd 3.4: a verified client certificate CN is the user under --client-cert-auth', { skip: noEtcd }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const pki = makePki(path.join(dir, 'pki'), 'ca', 'alice');
    const [steps, got] = await runCnSession('etcd', path.join(dir, 'etcd'), pki, await freePorts());
    assert.deepEqual(labelled(steps, got), labelled(steps, steps.map(expected)));
  } finally {
    cleanup();
  }
});

test('tsetcd: client certificate CN identity as etcd 3.4 has it', { skip: noEtcd }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const pki = makePki(path.join(dir, 'pki'), 'ca', 'alice');
    const ports = await freePorts();
    const [steps, want] = await runCnSession('etcd', path.join(dir, 'etcd'), pki, ports);
    const [, got] = await runCnSession(TSETCD_BIN, path.join(dir, 'tsetcd'), pki, ports);
    assert.deepEqual(labelled(steps, got), labelled(steps, want));
  } finally {
    cleanup();
  }
});
