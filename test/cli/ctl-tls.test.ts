// tsetcdctl's TLS and auth flags (--cacert, --cert, --key, --insecure-transport,
// --insecure-skip-tls-verify, --user, --password and their ETCDCTL_* variables) against
// tsetcd members: one serving https with client certificate auth, one plain with auth
// enabled. Where real etcdctl 3.4 is installed, it runs the same commands against the
// same member and must print the same thing (its JSON retry log lines aside).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import { UnaryClient } from '../../src/client/unary-client.js';
import { CtlClient } from '../../src/cli/ctl/client.js';
import { tlsConfig } from '../../src/cli/ctl/connection.js';
import { AuthService, KVService, RangeRequest, WatchRequest, WatchResponse } from '../../src/proto/etcdserverpb.js';
import { freePorts, startMember, TSETCD_BIN, waitUntil, type MemberPorts, type RunningMember } from '../e2e/harness.js';
import { makePki, type TestPki } from '../e2e/pki-helpers.js';
import { tempDir } from '../helpers/tmp.js';
import { BIN, haveBinary, run, type Result } from './helpers.js';

const HAVE_ETCDCTL = haveBinary('etcdctl');

interface Out {
  stdout: string;
  stderr: string;
  code: number | null;
}

function text(r: Result): Out {
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr, code: r.code };
}

/** stderr without clientv3's JSON log lines (retries), which both clients print */
function withoutLogLines(r: Out): Out {
  const stderr = r.stderr
    .split('\n')
    .filter((l) => !l.startsWith('{"level":'))
    .join('\n');
  return { ...r, stderr };
}

async function ctl(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Out> {
  return withoutLogLines(text(await run(BIN.tsetcdctl, args, opts)));
}

async function etcdctl(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Out> {
  return withoutLogLines(text(await run('etcdctl', args, { ...opts, env: { ETCDCTL_API: '3', ...opts.env } })));
}

/** tsetcdctl's answer; the same as etcdctl's when etcdctl is installed */
async function both(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Out> {
  const ours = await ctl(args, opts);
  if (HAVE_ETCDCTL) assert.deepEqual(ours, await etcdctl(args, opts), `tsetcdctl and etcdctl differ for ${args.join(' ')}`);
  return ours;
}

/** An https-only member that wants client certificates from `pki`'s CA. */
async function startTlsMember(dir: string, pki: TestPki, ports: MemberPorts): Promise<{ proc: ChildProcess; url: string }> {
  const url = `https://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const proc = spawn(
    TSETCD_BIN,
    [
      `--data-dir=${path.join(dir, 'data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--client-cert-auth',
      `--trusted-ca-file=${pki.ca}`,
      `--cert-file=${pki.server.cert}`,
      `--key-file=${pki.server.key}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  // ready when /health answers over TLS with a client certificate (not through tsetcdctl)
  const healthy = (): Promise<boolean> =>
    new Promise((resolve) => {
      const req = https.get(`${url}/health`, { ca: fs.readFileSync(pki.ca), cert: fs.readFileSync(pki.client.cert), key: fs.readFileSync(pki.client.key) }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
    });
  try {
    await waitUntil(healthy, exited, 'TLS member');
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { proc, url };
}

/**
 * Watches `key` on a stream the client opens; once the watch is created, runs `write`
 * and returns the first events seen ("key=value"), or the reason the watch was refused.
 */
async function watchOne(client: CtlClient, key: string, write: () => Promise<void>): Promise<string[]> {
  const stream = await client.openStream('/etcdserverpb.Watch/Watch');
  const events: string[] = [];
  let first!: (r: WatchResponse) => void;
  const answered = new Promise<WatchResponse>((r) => (first = r));
  stream.onMessage = (m) => {
    const r = WatchResponse.decode(m);
    first(r);
    for (const e of r.events) events.push(`${Buffer.from(e.kv!.key).toString()}=${Buffer.from(e.kv!.value).toString()}`);
  };
  const create = { key: Buffer.from(key), range_end: new Uint8Array(0), start_revision: 0, progress_notify: false, filters: [], prev_kv: false, watch_id: 0, fragment: false };
  stream.send(WatchRequest.encode({ create_request: create }));
  try {
    const r = await Promise.race([answered, stream.done.then(() => undefined, (err: Error) => err)]);
    if (r instanceof Error || r === undefined) return [`stream ended: ${r?.message ?? 'OK'}`];
    if (!r.created || r.canceled) return [`not created: ${r.cancel_reason}`];
    await write();
    await waitUntil(async () => events.length > 0, undefined, 'watch event');
    return events;
  } finally {
    stream.cancel();
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

test('tsetcdctl over TLS: client certificates, CA, ETCDCTL_* variables, health, member list and streams', async () => {
  const { dir, cleanup } = tempDir('tsetcdctl-tls-');
  const pki = makePki(path.join(dir, 'pki-a'), 'ca', 'tls-client');
  const rogue = makePki(path.join(dir, 'pki-b'), 'rogue');
  const ports = await freePorts();
  const { proc, url } = await startTlsMember(dir, pki, ports);
  const hostPort = `127.0.0.1:${ports.client}`;
  const files = [`--cacert=${pki.ca}`, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`];
  // failures wait for the command timeout: keep it short
  const quick = ['--dial-timeout=1s', '--command-timeout=1s'];
  try {
    // https:// endpoint with CA, certificate and key
    assert.deepEqual(await ctl([`--endpoints=${url}`, ...files, 'put', 'k', 'v']), { stdout: 'OK\n', stderr: '', code: 0 });
    assert.deepEqual(await ctl([`--endpoints=${url}`, ...files, 'get', 'k']), { stdout: 'k\nv\n', stderr: '', code: 0 });
    // host:port is TLS because TLS files are given
    assert.deepEqual(await both([`--endpoints=${hostPort}`, ...files, 'get', 'k', '--print-value-only']), { stdout: 'v\n', stderr: '', code: 0 });
    // "localhost" is checked against the certificate's DNS names
    assert.equal((await ctl([`--endpoints=https://localhost:${ports.client}`, ...files, 'get', 'k', '--print-value-only'])).stdout, 'v\n');

    // the same through the environment
    const env = { ETCDCTL_ENDPOINTS: url, ETCDCTL_CACERT: pki.ca, ETCDCTL_CERT: pki.client.cert, ETCDCTL_KEY: pki.client.key };
    assert.deepEqual(await ctl(['put', 'from-env', 'yes'], { env }), { stdout: 'OK\n', stderr: '', code: 0 });
    assert.deepEqual(await both(['get', 'from-env', '--print-value-only'], { env }), { stdout: 'yes\n', stderr: '', code: 0 });
    assert.deepEqual(await ctl(['get', 'from-env', '--print-value-only'], { env: { ...env, ETCDCTL_ENDPOINTS: hostPort } }), { stdout: 'yes\n', stderr: '', code: 0 });

    // endpoint health, endpoint status --cluster and member list over TLS
    const health = await ctl([`--endpoints=${url}`, ...files, 'endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stderr, new RegExp(`^${url.replace(/\./g, '\\.')} is healthy: successfully committed proposal: took = `));
    const clusterHealth = await ctl([`--endpoints=${hostPort}`, ...files, 'endpoint', 'health', '--cluster', '-w', 'json']);
    assert.equal(clusterHealth.code, 0, clusterHealth.stderr);
    assert.match(clusterHealth.stdout, new RegExp(`^\\[\\{"endpoint":"${url.replace(/\./g, '\\.')}","health":true,`));
    const members = await ctl([`--endpoints=${url}`, ...files, 'member', 'list']);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, new RegExp(`^[0-9a-f]+, started, default, http://127\\.0\\.0\\.1:${ports.peer}, ${url.replace(/\./g, '\\.')}, false\n$`));
    const status = await ctl([`--endpoints=${hostPort}`, ...files, 'endpoint', 'status', '--cluster']);
    assert.equal(status.code, 0, status.stderr);
    assert.ok(status.stdout.startsWith(`${url}, `), status.stdout);

    // --insecure-skip-tls-verify: a client certificate but no CA to check the server with
    assert.deepEqual(await both([`--endpoints=${url}`, '--insecure-skip-tls-verify', `--cert=${pki.client.cert}`, `--key=${pki.client.key}`, 'get', 'k', '--print-value-only']), {
      stdout: 'v\n',
      stderr: '',
      code: 0,
    });

    // refused: no client certificate; one from another CA; the server checked against the
    // system roots; plain HTTP/2 to the https port; host:port without TLS files
    const deadline = { stdout: '', stderr: 'Error: context deadline exceeded\n', code: 1 };
    assert.deepEqual(await both([`--endpoints=${url}`, ...quick, `--cacert=${pki.ca}`, 'put', 'nocert', 'x']), deadline);
    assert.deepEqual(await both([`--endpoints=${url}`, ...quick, `--cacert=${pki.ca}`, `--cert=${rogue.client.cert}`, `--key=${rogue.client.key}`, 'put', 'rogue', 'x']), deadline);
    assert.deepEqual(await both([`--endpoints=${url}`, ...quick, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`, 'get', 'k']), deadline);
    assert.deepEqual(await both([`--endpoints=http://${hostPort}`, ...quick, ...files, 'get', 'k']), deadline);
    assert.deepEqual(await both([`--endpoints=${hostPort}`, ...quick, 'get', 'k']), deadline);
    // --insecure-transport=false alone: TLS without a client certificate
    assert.deepEqual(await both([`--endpoints=${hostPort}`, ...quick, '--insecure-transport=false', '--insecure-skip-tls-verify', 'get', 'k']), deadline);
    // --insecure-skip-tls-verify does nothing without a TLS configuration: https:// verifies with the system roots
    assert.deepEqual(await both([`--endpoints=${url}`, ...quick, '--insecure-skip-tls-verify', 'get', 'k']), deadline);
    assert.equal((await ctl([`--endpoints=${url}`, ...files, 'get', 'nocert', 'rogue~'])).stdout, '', 'refused requests wrote nothing');

    // bad TLS files: etcdctl's messages and exit code 128
    const badArgs = (message: string): Out => ({ stdout: '', stderr: `Error: ${message}\n`, code: 128 });
    assert.deepEqual(await both([`--endpoints=${url}`, `--cert=${pki.client.cert}`, 'get', 'k']), badArgs(`KeyFile and CertFile must both be present[key: , cert: ${pki.client.cert}]`));
    assert.deepEqual(await both([`--endpoints=${url}`, `--key=${pki.client.key}`, 'get', 'k']), badArgs(`KeyFile and CertFile must both be present[key: ${pki.client.key}, cert: ]`));
    const missing = path.join(dir, 'missing.pem');
    assert.deepEqual(await both([`--endpoints=${url}`, `--cacert=${missing}`, 'get', 'k']), badArgs(`open ${missing}: no such file or directory`));
    assert.deepEqual(await both([`--endpoints=${url}`, `--cert=${missing}`, `--key=${pki.client.key}`, 'get', 'k']), badArgs(`open ${missing}: no such file or directory`));
    assert.deepEqual(await both([`--endpoints=${url}`, `--cacert=${pki.dir}`, 'get', 'k']), badArgs(`read ${pki.dir}: is a directory`));
    assert.deepEqual(await both([`--endpoints=${url}`, `--cert=${pki.client.cert}`, `--key=${rogue.client.key}`, 'get', 'k']), badArgs('tls: private key does not match public key'));
    assert.deepEqual(
      await both([`--endpoints=${url}`, `--cert=${pki.client.key}`, `--key=${pki.client.cert}`, 'get', 'k']),
      badArgs('tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched'),
    );
    assert.deepEqual(await both([`--endpoints=${url}`, `--cert=${pki.client.cert}`, `--key=${pki.client.cert}`, 'get', 'k']), badArgs('tls: found a certificate rather than a key in the PEM for the private key'));
    assert.deepEqual(await both([`--endpoints=${url}`, `--cacert=${pki.client.key}`, 'get', 'k']), badArgs('x509: malformed tbs certificate'));
    // an unknown output format is found before the files are read
    assert.deepEqual(await both([`--endpoints=${url}`, '-w', 'nope', `--cert=${pki.client.cert}`, 'get', 'k']), { stdout: '', stderr: 'Error: unsupported output format\n', code: 4 });
    // endpoint health: the same check (with --cluster etcdctl makes it exit code 1)
    assert.deepEqual(await both([`--endpoints=${url}`, `--cert=${pki.client.cert}`, 'endpoint', 'health']), badArgs(`KeyFile and CertFile must both be present[key: , cert: ${pki.client.cert}]`));
    assert.deepEqual(await both([`--endpoints=${url}`, `--cert=${pki.client.cert}`, 'endpoint', 'health', '--cluster']), {
      ...badArgs(`KeyFile and CertFile must both be present[key: , cert: ${pki.client.cert}]`),
      code: 1,
    });

    // a watch stream over TLS, opened by the client with the command's settings
    const client = new CtlClient([url], { tls: tlsConfig({ cacert: pki.ca, cert: pki.client.cert, key: pki.client.key, insecureTransport: true, insecureSkipVerify: false })!, dialTimeoutMs: 2000 });
    try {
      const events = await watchOne(client, 'watched', async () => {
        assert.equal((await ctl([`--endpoints=${url}`, ...files, 'put', 'watched', 'over-tls'])).code, 0);
      });
      assert.deepEqual(events, ['watched=over-tls']);
    } finally {
      client.close();
    }
  } finally {
    await stop(proc);
    cleanup();
  }
});

// ---- auth ---------------------------------------------------------------------------------

async function unary<Req>(url: string, method: { path: string; request: { encode(m: Req): Uint8Array } }, req: Req, metadata?: Record<string, string>): Promise<Buffer> {
  const c = new UnaryClient(url);
  try {
    return await c.call(method.path, method.request.encode(req), metadata ? { metadata } : {});
  } finally {
    c.close();
  }
}

/** user root (password rootpw) with the root role, and auth enabled */
async function enableAuth(url: string): Promise<void> {
  const m = AuthService.methods;
  await unary(url, m.UserAdd, { name: 'root', password: 'rootpw', options: { no_password: false }, hashedPassword: '' });
  await unary(url, m.RoleAdd, { name: 'root' });
  await unary(url, m.UserGrantRole, { user: 'root', role: 'root' });
  await unary(url, m.AuthEnable, {});
}

test('tsetcdctl --user/--password: authenticates, sends the token, and fails as etcdctl does', async () => {
  const { dir, cleanup } = tempDir('tsetcdctl-auth-');
  const ports = await freePorts();
  const dataDir = path.join(dir, 'data');
  let member: RunningMember = await startMember({ bin: TSETCD_BIN, dataDir, ports });
  const ep = `127.0.0.1:${ports.client}`;
  const at = [`--endpoints=${ep}`];
  try {
    // before auth is enabled, a user and password are accepted and not needed
    assert.deepEqual(await both([...at, '--user=root:whatever', 'put', 'k', 'before']), { stdout: 'OK\n', stderr: '', code: 0 });
    await enableAuth(member.clientUrl);

    assert.deepEqual(await both([...at, 'put', 'k', 'v']), { stdout: '', stderr: 'Error: etcdserver: user name is empty\n', code: 1 });
    assert.deepEqual(await ctl([...at, '--user=root:rootpw', 'put', 'k', 'v']), { stdout: 'OK\n', stderr: '', code: 0 });
    assert.deepEqual(await both([...at, '--user=root:rootpw', 'get', 'k']), { stdout: 'k\nv\n', stderr: '', code: 0 });
    assert.deepEqual(await both([...at, '--user=root', '--password=rootpw', 'get', 'k', '--print-value-only']), { stdout: 'v\n', stderr: '', code: 0 });
    // a password that contains a colon: only the first one splits
    assert.deepEqual(await ctl([...at, '--user=root:rootpw:x', 'get', 'k']), { stdout: '', stderr: 'Error: etcdserver: authentication failed, invalid user ID or password\n', code: 2 });
    // a refused login is a connection failure: exit code 2
    const badLogin = { stdout: '', stderr: 'Error: etcdserver: authentication failed, invalid user ID or password\n', code: 2 };
    assert.deepEqual(await both([...at, '--user=root:wrong', 'put', 'k', 'x']), badLogin);
    assert.deepEqual(await both([...at, '--user=nobody:x', 'get', 'k']), badLogin);
    // an empty name or password: no login at all
    assert.deepEqual(await both([...at, '--user=root:', 'get', 'k']), { stdout: '', stderr: 'Error: etcdserver: user name is empty\n', code: 1 });
    assert.deepEqual(await both([...at, '--user=:rootpw', 'get', 'k']), { stdout: '', stderr: 'Error: etcdserver: user name is empty\n', code: 1 });

    // the password asked for: the prompt on stdout, the answer read from stdin; stty,
    // run around the read as etcdctl's speakeasy runs it, complains that stdin is no terminal
    const stty = "stty: 'standard input': Inappropriate ioctl for device\n".repeat(2);
    assert.deepEqual(await ctl([...at, '--user=root', 'get', 'k'], { stdin: 'rootpw\n' }), { stdout: 'Password: \nk\nv\n', stderr: stty, code: 0 });
    assert.deepEqual(await ctl([...at, '--user=root', 'get', 'k'], { stdin: 'wrong\n' }), { ...badLogin, stdout: 'Password: \n', stderr: stty + badLogin.stderr });
    // no answer at all: an empty password, so no login
    assert.deepEqual(await ctl([...at, '--user=root', 'get', 'k']), { stdout: 'Password: \n', stderr: stty + 'Error: etcdserver: user name is empty\n', code: 1 });
    if (HAVE_ETCDCTL) {
      const theirs = await etcdctl([...at, '--user=root', 'get', 'k'], { stdin: 'rootpw\n' });
      assert.deepEqual([theirs.stdout, theirs.stderr.replace(/^\{"level".*\n/gm, ''), theirs.code], ['Password: \nk\nv\n', stty, 0]);
    }

    // through the environment
    assert.deepEqual(await both(['get', 'k', '--print-value-only'], { env: { ETCDCTL_ENDPOINTS: ep, ETCDCTL_USER: 'root:rootpw' } }), { stdout: 'v\n', stderr: '', code: 0 });
    assert.deepEqual(await both(['get', 'k', '--print-value-only'], { env: { ETCDCTL_ENDPOINTS: ep, ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'rootpw' } }), {
      stdout: 'v\n',
      stderr: '',
      code: 0,
    });
    assert.deepEqual(await both(['get', 'k'], { env: { ETCDCTL_ENDPOINTS: ep, ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'wrong' } }), badLogin);

    // endpoint health: a refused login makes the endpoint unhealthy
    assert.deepEqual(await both([...at, '--user=root:wrong', 'endpoint', 'health']), {
      stdout: '',
      stderr: `${ep} is unhealthy: failed to commit proposal: etcdserver: authentication failed, invalid user ID or password\nError: unhealthy cluster\n`,
      code: 1,
    });
    assert.deepEqual(await both([...at, '--user=root:wrong', 'endpoint', 'health', '-w', 'json']), {
      stdout: `[{"endpoint":"${ep}","health":false,"took":"","error":"etcdserver: authentication failed, invalid user ID or password"}]\n`,
      stderr: 'Error: unhealthy cluster\n',
      code: 1,
    });
    const healthy = await ctl([...at, '--user=root:rootpw', 'endpoint', 'health']);
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.match(healthy.stderr, /is healthy: successfully committed proposal/);
    // member list needs no login, but a refused one still ends the command
    assert.deepEqual(await both([...at, '--user=root:wrong', 'member', 'list']), badLogin);

    // nothing answers: the login gives up after --dial-timeout, exit code 2
    const closed = `127.0.0.1:${(await freePorts()).client}`;
    assert.deepEqual(await both([`--endpoints=${closed}`, '--dial-timeout=500ms', '--user=root:rootpw', 'get', 'k']), {
      stdout: '',
      stderr: 'Error: context deadline exceeded\n',
      code: 2,
    });

    // a token the member forgot (simple tokens live in memory): the client logs in again
    const client = new CtlClient([ep], { auth: { username: 'root', password: 'rootpw' }, dialTimeoutMs: 5000 });
    try {
      // streams carry the token too
      const events = await watchOne(client, 'k', async () => {
        assert.equal((await ctl([...at, '--user=root:rootpw', 'put', 'k', 'watched'])).code, 0);
      });
      assert.deepEqual(events, ['k=watched']);
      const anonymous = new CtlClient([ep], { dialTimeoutMs: 5000 });
      try {
        // without a token the watch is refused (etcd: "rpc error: code = InvalidArgument desc = etcdserver: user name is empty")
        const refused = await watchOne(anonymous, 'k', async () => {});
        assert.equal(refused.length, 1);
        assert.match(refused[0]!, /^not created: .*etcdserver: user name is empty$/);
      } finally {
        anonymous.close();
      }
      assert.equal((await ctl([...at, '--user=root:rootpw', 'put', 'k', 'v'])).code, 0);
      const before = await client.call(KVService.methods.Range, RangeRequest.create({ key: Buffer.from('k') }), Date.now() + 10_000, { repeatable: true });
      assert.equal(Buffer.from(before.msg.kvs[0]!.value).toString(), 'v');
      const token = AuthService.methods.Authenticate.response.decode(await unary(member.clientUrl, AuthService.methods.Authenticate, { name: 'root', password: 'rootpw' })).token;
      await member.stop();
      member = await startMember({ bin: TSETCD_BIN, dataDir, ports, waitHealthy: false });
      const oldToken = (): Promise<string> =>
        unary(member.clientUrl, KVService.methods.Range, RangeRequest.create({ key: Buffer.from('k') }), { token }).then(
          () => 'accepted',
          (err: Error) => err.message,
        );
      // up once it answers with a status of its own rather than a connection failure
      await waitUntil(async () => /^(etcdserver: |accepted$)/.test(await oldToken()), member.exited, 'restarted member');
      assert.equal(await oldToken(), 'etcdserver: invalid auth token', 'the restarted member no longer knows the old token');
      const after = await client.call(KVService.methods.Range, RangeRequest.create({ key: Buffer.from('k') }), Date.now() + 10_000, { repeatable: true });
      assert.equal(Buffer.from(after.msg.kvs[0]!.value).toString(), 'v');
    } finally {
      client.close();
    }
  } finally {
    await member.stop();
    cleanup();
  }
});
