// The dashboard's server side without a browser: it serves the bundled UI from the member
// (nothing from elsewhere), refuses every API call without credentials when auth is on,
// applies the logged-in user's permissions exactly as the client port does (a read-only
// user reads but cannot write, snapshot or defragment), gives root a snapshot that
// `etcdctl snapshot status` accepts, and over HTTPS with --client-cert-auth takes the
// verified client certificate's CN as the user and refuses a browser without one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePort, freePorts, haveBinary, startMember, TSETCD_BIN } from '../e2e/harness.js';
import { makePki } from '../e2e/pki-helpers.js';

const skip = !haveBinary('etcdctl') && 'etcdctl is not installed';
const H = { 'X-Tsetcd-Dashboard': '1' };
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function ok(r: { code: number | null; stderr: string; stdout: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
}

async function login(base: string, name: string, password: string): Promise<{ status: number; cookie: string; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: H, body: JSON.stringify({ name, password }) });
  return { status: res.status, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, body: (await res.json()) as Record<string, unknown> };
}

async function call(base: string, cookie: string, gatewayPath: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/v3${gatewayPath}`, { method: 'POST', headers: { ...H, cookie }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('dashboard API over HTTP: assets, refusal, per-user permissions, snapshot', { skip, timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports: await freePorts(), extraArgs: [`--listen-dashboard-urls=${base}`] });
  const ep = member.clientUrl;
  try {
    for (const args of [
      ['user', 'add', 'root:rootpw'],
      ['user', 'add', 'reader:readpw'],
      ['role', 'add', 'ro'],
      ['role', 'grant-permission', 'ro', 'read', 'app/', '--prefix'],
      ['user', 'grant-role', 'reader', 'ro'],
      ['put', 'app/a', 'hello'],
      ['auth', 'enable'],
    ]) {
      ok(await etcdctl(ep, args), args.join(' '));
    }

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers.get('content-security-policy')), /default-src 'self'/);
    const html = await page.text();
    assert.doesNotMatch(html, /(src|href)="https?:/, 'the page loads nothing from elsewhere');
    for (const asset of ['/app.js', '/app.css']) {
      const r = await fetch(base + asset);
      assert.equal(r.status, 200, asset);
      assert.ok((await r.arrayBuffer()).byteLength > 1000, `${asset} is the built bundle`);
    }

    assert.equal((await fetch(`${base}/api/session`)).status, 401);
    assert.equal((await call(base, '', '/kv/range', { key: b64('app/a') })).status, 401);
    assert.equal((await fetch(`${base}/api/snapshot`)).status, 401);
    const bad = await login(base, 'reader', 'nope');
    assert.equal(bad.status, 400, 'etcd reports a failed login as InvalidArgument');
    assert.equal(bad.body['error'], 'etcdserver: authentication failed, invalid user ID or password');

    const reader = await login(base, 'reader', 'readpw');
    assert.equal(reader.status, 200);
    const session = await fetch(`${base}/api/session`, { headers: { cookie: reader.cookie } });
    assert.deepEqual(await session.json(), { authEnabled: true, user: 'reader', root: false, viaCertificate: false });
    const got = await call(base, reader.cookie, '/kv/range', { key: b64('app/a') });
    assert.equal(got.status, 200);
    assert.equal(Buffer.from(String((got.body['kvs'] as Array<{ value: string }>)[0]!.value), 'base64').toString(), 'hello');
    const put = await call(base, reader.cookie, '/kv/put', { key: b64('app/a'), value: b64('changed') });
    assert.deepEqual([put.status, put.body['error']], [403, 'etcdserver: permission denied']);
    const outside = await call(base, reader.cookie, '/kv/range', { key: b64('secret') });
    assert.deepEqual([outside.status, outside.body['error']], [403, 'etcdserver: permission denied']);
    const defrag = await call(base, reader.cookie, '/maintenance/defragment', {});
    assert.deepEqual([defrag.status, defrag.body['error']], [403, 'etcdserver: permission denied']);
    assert.equal((await fetch(`${base}/api/snapshot`, { headers: { cookie: reader.cookie } })).status, 403);
    assert.equal((await etcdctl(ep, ['--user=root:rootpw', 'get', 'app/a', '--print-value-only'])).stdout, 'hello\n', 'the refused put changed nothing');

    const root = await login(base, 'root', 'rootpw');
    const snap = await fetch(`${base}/api/snapshot`, { headers: { cookie: root.cookie } });
    assert.equal(snap.status, 200);
    const file = path.join(dir, 'snap.db');
    fs.writeFileSync(file, Buffer.from(await snap.arrayBuffer()));
    const status = await etcdctl(ep, ['snapshot', 'status', file, '-w', 'json']);
    ok(status, 'snapshot status');
    assert.ok(JSON.parse(status.stdout).totalKey > 0);
  } finally {
    await member.stop();
    cleanup();
  }
});

test('dashboard over HTTPS with --client-cert-auth: the certificate CN is the user', { skip, timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const pki = makePki(path.join(dir, 'pki'), 'ca', 'root');
  const ports = await freePorts();
  const dashPort = await freePort();
  const ep = `https://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const tlsFlags = [`--cacert=${pki.ca}`, `--cert=${pki.client.cert}`, `--key=${pki.client.key}`];
  const member = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'm'),
    ports,
    args: [
      `--data-dir=${path.join(dir, 'm')}`,
      `--listen-client-urls=${ep}`,
      `--advertise-client-urls=${ep}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--client-cert-auth',
      `--trusted-ca-file=${pki.ca}`,
      `--cert-file=${pki.server.cert}`,
      `--key-file=${pki.server.key}`,
      `--listen-dashboard-urls=https://127.0.0.1:${dashPort}`,
    ],
    ready: async () => (await etcdctl(ep, [...tlsFlags, 'endpoint', 'health'])).code === 0,
  });
  try {
    for (const args of [['user', 'add', 'root:rootpw'], ['auth', 'enable']]) ok(await etcdctl(ep, [...tlsFlags, ...args]), args.join(' '));
    const ca = fs.readFileSync(pki.ca);
    const withCert = await httpsGet(dashPort, '/api/session', { ca, cert: fs.readFileSync(pki.client.cert), key: fs.readFileSync(pki.client.key) });
    assert.equal(withCert.status, 200);
    assert.deepEqual(JSON.parse(withCert.body), { authEnabled: true, user: 'root', root: true, viaCertificate: true });
    const without = await httpsGet(dashPort, '/api/session', { ca });
    assert.equal(without.status, 403);
    assert.match(without.body, /verified client certificate is required/);
  } finally {
    await member.stop();
    cleanup();
  }
});

function httpsGet(port: number, pathname: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: pathname, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}
