// Real etcd 3.4 and etcdctl with certificates from `tsetcdutl pki`: a member serving
// client and peer TLS with client-certificate auth on both, and etcdctl putting and
// getting a key with a client certificate we issued. A client certificate from another
// CA must be refused.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { FIXTURES, freePort, pkiOk, run, which } from './helpers.js';

const haveEtcd = which('etcd') !== undefined && which('etcdctl') !== undefined;

interface Member {
  proc: ChildProcess;
  endpoint: string;
  log: () => string;
}

interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

async function startEtcd(dataDir: string, server: TlsFiles): Promise<Member> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `https://127.0.0.1:${clientPort}`;
  const peer = `https://127.0.0.1:${peerPort}`;
  const args = [
    '--name=m1',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=m1=${peer}`,
    `--cert-file=${server.cert}`,
    `--key-file=${server.key}`,
    `--trusted-ca-file=${server.ca}`,
    '--client-cert-auth',
    `--peer-cert-file=${server.cert}`,
    `--peer-key-file=${server.key}`,
    `--peer-trusted-ca-file=${server.ca}`,
    '--peer-client-cert-auth',
  ];
  const proc = spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { proc, endpoint, log: () => log };
}

async function stopEtcd(m: Member): Promise<void> {
  if (m.proc.exitCode !== null || m.proc.signalCode !== null) return;
  const exited = once(m.proc, 'exit');
  m.proc.kill('SIGTERM');
  const timer = setTimeout(() => m.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function etcdctl(m: Member, client: TlsFiles, args: string[], timeout = '5s') {
  const tls = [`--cacert=${client.ca}`, `--cert=${client.cert}`, `--key=${client.key}`];
  return run('etcdctl', [`--endpoints=${m.endpoint}`, ...tls, `--dial-timeout=${timeout}`, `--command-timeout=${timeout}`, ...args], path.dirname(client.ca));
}

async function waitHealthy(m: Member, client: TlsFiles): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (m.proc.exitCode !== null) throw new Error(`etcd exited ${m.proc.exitCode}:\n${m.log()}`);
    if (etcdctl(m, client, ['endpoint', 'health'], '1s').status === 0) return;
    await sleep(250);
  }
  throw new Error(`etcd did not become healthy:\n${m.log()}`);
}

/** Starts etcd with the server files, then puts and gets a key with the client files. */
async function roundTrip(server: TlsFiles, client: TlsFiles, other: TlsFiles): Promise<void> {
  const data = tempDir('tsetcd-pki-etcd-');
  const m = await startEtcd(path.join(data.dir, 'data'), server);
  try {
    await waitHealthy(m, client);
    const put = etcdctl(m, client, ['put', 'tls-key', 'issued-by-tsetcdutl']);
    assert.equal(put.status, 0, put.stderr);
    assert.equal(put.stdout.trim(), 'OK');
    const get = etcdctl(m, client, ['get', 'tls-key']);
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout, 'tls-key\nissued-by-tsetcdutl\n');
    const refused = etcdctl(m, { ...other, ca: server.ca }, ['get', 'tls-key'], '1s');
    assert.notEqual(refused.status, 0, 'a client certificate from another CA must be refused');
  } finally {
    await stopEtcd(m);
    data.cleanup();
  }
}

describe('real etcd 3.4 with tsetcdutl pki certificates', { skip: haveEtcd ? false : 'etcd/etcdctl not installed' }, () => {
  const dirs: Record<string, { dir: string; cleanup: () => void }> = {};
  // The tutorials' own command lines run in tutorials.test.ts; here the same requests go
  // through the same code in this process, which is quicker than a process per step.
  const steps: Record<string, string[][]> = {
    'tutorial-000': [
      ['etcd-root-ca', '-initca', 'etcd-root-ca-csr.json'],
      ...['s1', 's2'].map((s) => [s, '--ca', 'etcd-root-ca.pem', '--ca-key', 'etcd-root-ca-key.pem', '--config', 'etcd-gencert.json', `${s}-ca-csr.json`]),
    ],
    'tutorial-003': [
      ['ca', '-initca', 'ca-csr.json'],
      ...['etcd', 'etcd-client'].map((n) => [n, '-ca=ca.pem', '-ca-key=ca-key.pem', '-config=ca-config.json', '-hostname=127.0.0.1,kubernetes.default', '-profile=kubernetes', `${n}-csr.json`]),
    ],
    'tutorial-004': [
      ['ca', '-initca', 'ca-csr.json'],
      ['etcd', '-ca=ca.pem', '-ca-key=ca-key.pem', '-config=ca-config.json', '-profile=etcd', 'etcd-csr.json'],
    ],
  };
  before(async () => {
    for (const [tutorial, list] of Object.entries(steps)) {
      const d = tempDir('tsetcd-pki-etcd-certs-');
      dirs[tutorial] = d;
      for (const file of readdirSync(path.join(FIXTURES, tutorial))) copyFileSync(path.join(FIXTURES, tutorial, file), path.join(d.dir, file));
      const abs = (a: string): string => a.replace(/^(-[-a-z]+=)?([\w.-]+\.(?:pem|json))$/, (_m, flag: string | undefined, file: string) => `${flag ?? ''}${path.join(d.dir, file)}`);
      for (const [name, ...args] of list) {
        await pkiOk(['json', '-bare', path.join(d.dir, name!)], await pkiOk(['gencert', ...args.map(abs)]));
      }
    }
  });
  after(() => {
    for (const d of Object.values(dirs)) d.cleanup();
  });

  const files = (tutorial: string, ca: string, name: string): TlsFiles => {
    const dir = dirs[tutorial]!.dir;
    return { ca: path.join(dir, `${ca}.pem`), cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
  };

  it('tutorial 000: member s1 serves client and peer TLS, etcdctl uses s2', async () => {
    await roundTrip(files('tutorial-000', 'etcd-root-ca', 's1'), files('tutorial-000', 'etcd-root-ca', 's2'), files('tutorial-003', 'ca', 'etcd-client'));
  });

  it('tutorial 003: server from -hostname, client certificate etcd-client', async () => {
    await roundTrip(files('tutorial-003', 'ca', 'etcd'), files('tutorial-003', 'ca', 'etcd-client'), files('tutorial-000', 'etcd-root-ca', 's2'));
  });

  it('tutorial 004: one certificate for everything, whose subject equals the CA subject', async () => {
    const one = files('tutorial-004', 'ca', 'etcd');
    await roundTrip(one, one, files('tutorial-000', 'etcd-root-ca', 's2'));
  });
});
