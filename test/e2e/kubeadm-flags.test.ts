// What kubeadm and etcd's sample configuration ask of etcd, asked of tsetcd:
//  - the exact flag set kubeadm writes into its etcd manifest starts a three-member mutual
//    TLS cluster that etcdctl can use, and its --experimental-watch-progress-notify-interval
//    really makes idle progress_notify watchers hear the revision (kube-apiserver relies on it);
//  - etcd.conf.yml.sample (keys and values as etcd ships them; only the ports moved so the test
//    does not need 2379/2380) starts a member, with its enable-v2 and enable-pprof;
//  - --enable-pprof serves /debug/pprof/profile and /heap that decode as pprof profiles.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Profile } from 'pprof-format';
import { openStream } from '../../src/client/unary-client.js';
import { WatchCreateRequest, WatchRequest, WatchResponse } from '../../src/proto/etcdserverpb.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePort, freePorts, startMember, TSETCD_BIN, waitUntil, type MemberPorts, type RunningMember } from './harness.js';
import { makePki, type TestPki } from './pki-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** the fixture sits in the source tree; this file runs from dist/test/e2e */
const SAMPLE = path.resolve(here, '../../../test/e2e/fixtures/etcd.conf.yml.sample');

/** kubeadm's etcd command line (static pod manifest), for member i of `ports`. */
function kubeadmArgs(p: TestPki, ports: MemberPorts[], metricsPorts: number[], i: number, dataDir: string): string[] {
  const client = `https://127.0.0.1:${ports[i]!.client}`;
  const peer = `https://127.0.0.1:${ports[i]!.peer}`;
  const cluster = ports.map((q, j) => `node${j}=https://127.0.0.1:${q.peer}`).join(',');
  return [
    `--advertise-client-urls=${client}`,
    `--cert-file=${p.server.cert}`,
    '--client-cert-auth=true',
    `--data-dir=${dataDir}`,
    '--experimental-initial-corrupt-check=true',
    '--experimental-watch-progress-notify-interval=5s',
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${cluster}`,
    `--key-file=${p.server.key}`,
    `--listen-client-urls=https://127.0.0.1:${ports[i]!.client}`,
    `--listen-metrics-urls=http://127.0.0.1:${metricsPorts[i]}`,
    `--listen-peer-urls=${peer}`,
    `--name=node${i}`,
    `--peer-cert-file=${p.server.cert}`,
    '--peer-client-cert-auth=true',
    `--peer-key-file=${p.server.key}`,
    `--peer-trusted-ca-file=${p.ca}`,
    '--snapshot-count=10000',
    `--trusted-ca-file=${p.ca}`,
  ];
}

describe("kubeadm's etcd flags", () => {
  const { dir, cleanup } = tempDir();
  let p: TestPki;
  const members: RunningMember[] = [];
  let ports: MemberPorts[];
  let tlsCtl: string[];

  before(async () => {
    p = makePki(path.join(dir, 'pki'));
    ports = [await freePorts(), await freePorts(), await freePorts()];
    const metricsPorts = [await freePort(), await freePort(), await freePort()];
    tlsCtl = [`--cacert=${p.ca}`, `--cert=${p.client.cert}`, `--key=${p.client.key}`];
    const started = ports.map((port, i) =>
      startMember({
        bin: TSETCD_BIN,
        dataDir: path.join(dir, `node${i}`),
        ports: port,
        args: kubeadmArgs(p, ports, metricsPorts, i, path.join(dir, `node${i}`)),
        ready: async () => {
          try {
            return (await fetch(`http://127.0.0.1:${metricsPorts[i]}/health`)).ok;
          } catch {
            return false;
          }
        },
      }),
    );
    members.push(...(await Promise.all(started)));
  });

  after(async () => {
    await Promise.all(members.map((m) => m.kill()));
    cleanup();
  });

  it('start a three-member mutual TLS cluster that etcdctl uses', async () => {
    const endpoints = ports.map((q) => `https://127.0.0.1:${q.client}`).join(',');
    const put = await etcdctl(endpoints, [...tlsCtl, 'put', '/registry/pods/a', 'v1']);
    assert.equal(put.code, 0, put.stderr);
    const list = await etcdctl(endpoints, [...tlsCtl, 'member', 'list']);
    assert.equal(list.stdout.trim().split('\n').length, 3, list.stdout);
    for (const q of ports) {
      const get = await etcdctl(`https://127.0.0.1:${q.client}`, [...tlsCtl, 'get', '/registry/pods/a', '--print-value-only']);
      assert.equal(get.stdout.trim(), 'v1');
    }
  });

  it('send progress notifications to idle progress_notify watchers', async () => {
    const stream = openStream(`https://127.0.0.1:${ports[1]!.client}`, '/etcdserverpb.Watch/Watch', {
      ca: fs.readFileSync(p.ca),
      cert: fs.readFileSync(p.client.cert),
      key: fs.readFileSync(p.client.key),
    });
    const progress: WatchResponse[] = [];
    let created = false;
    stream.onMessage = (bytes) => {
      const r = WatchResponse.decode(bytes);
      if (r.created) created = true;
      else if (r.events.length === 0 && !r.canceled) progress.push(r);
    };
    const create = WatchCreateRequest.create({ key: Buffer.from('/registry/idle'), progress_notify: true });
    stream.send(WatchRequest.encode(WatchRequest.create({ create_request: create })));
    try {
      // the interval is 5 s; etcd's default (10 min) would send none within this wait
      await waitUntil(async () => created && progress.length >= 2, undefined, 'two progress notifications', 60_000);
      assert.ok(progress.every((r) => r.header!.revision >= 2), 'a progress notification carries the store revision');
    } finally {
      stream.cancel();
    }
  });
});

describe("etcd's sample configuration", () => {
  it('starts a member unchanged but for its ports, enable-v2 and enable-pprof included', async () => {
    const { dir, cleanup } = tempDir();
    let m: RunningMember | undefined;
    const cwd = process.cwd();
    try {
      const ports = await freePorts();
      const yaml = fs
        .readFileSync(SAMPLE, 'utf8')
        .replaceAll('localhost:2379', `localhost:${ports.client}`)
        .replaceAll('localhost:2380', `localhost:${ports.peer}`);
      const file = path.join(dir, 'etcd.conf.yml');
      fs.writeFileSync(file, yaml);
      // data-dir is empty in the sample: the member uses ./default.etcd, so run it in the temp dir
      process.chdir(dir);
      m = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'default.etcd'), ports, args: ['--config-file', file], waitHealthy: false });
      await waitUntil(async () => {
        try {
          return (await fetch(`http://localhost:${ports.client}/health`)).ok;
        } catch {
          return false;
        }
      }, m.exited, 'sample-config member');
      const put = await etcdctl(`http://localhost:${ports.client}`, ['put', 'k', 'v']);
      assert.equal(put.code, 0, put.stderr);
      const log = fs.readFileSync(m.logPath, 'utf8');
      assert.match(log, /serves only the v3 API/);
      assert.match(log, /"msg":"pprof is enabled"/);
      const index = await fetch(`http://localhost:${ports.client}/debug/pprof/`);
      assert.equal(index.status, 200);
    } finally {
      process.chdir(cwd);
      await m?.kill();
      cleanup();
    }
  });
});

describe('--enable-pprof', () => {
  const { dir, cleanup } = tempDir();
  let m: RunningMember;
  let base: string;

  before(async () => {
    const ports = await freePorts();
    m = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'd'), ports, extraArgs: ['--enable-pprof'] });
    base = `${m.clientUrl}/debug/pprof`;
  });

  after(async () => {
    await m.kill();
    cleanup();
  });

  async function profile(url: string): Promise<Profile> {
    const res = await fetch(url);
    assert.equal(res.status, 200, await res.clone().text());
    return Profile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
  }

  const typesOf = (prof: Profile) => prof.sampleType.map((t) => `${prof.stringTable.strings[Number(t.type)]}/${prof.stringTable.strings[Number(t.unit)]}`);

  it('serves a CPU profile for ?seconds= in pprof format, with the functions that ran', async () => {
    // load while profiling so the profile has server code in it
    const busy = (async () => {
      for (let i = 0; i < 40; i++) await etcdctl(m.clientUrl, ['put', `k${i}`, 'v']);
    })();
    const prof = await profile(`${base}/profile?seconds=2`);
    await busy;
    assert.deepEqual(typesOf(prof), ['samples/count', 'cpu/nanoseconds']);
    assert.ok(prof.sample.length > 0);
    const names = new Set(prof.function.map((f) => prof.stringTable.strings[Number(f.name)]));
    assert.ok(names.size > 5, [...names].join(','));
  });

  it('serves the heap profile of live objects', async () => {
    const prof = await profile(`${base}/heap`);
    assert.deepEqual(typesOf(prof), ['inuse_objects/count', 'inuse_space/bytes']);
  });

  it('says why Go-only profiles are not there', async () => {
    const res = await fetch(`${base}/goroutine`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /Node\.js has no goroutines/);
  });

  it('is not served without the flag', async () => {
    const { dir: d2, cleanup: c2 } = tempDir();
    const plain = await startMember({ bin: TSETCD_BIN, dataDir: path.join(d2, 'd'), ports: await freePorts() });
    try {
      assert.equal((await fetch(`${plain.clientUrl}/debug/pprof/heap`)).status, 404);
    } finally {
      await plain.kill();
      c2();
    }
  });
});
