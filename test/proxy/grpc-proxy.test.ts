// Proves `tsetcd grpc-proxy start` in front of a three-member tsetcd cluster serves real
// etcdctl as a member would (put/get/txn/lease/del, snapshot and lock through its streams,
// auth with the caller's own token),
// caches serializable reads and forgets them when a write goes through it, coalesces many
// identical watches into one upstream watch (its metrics and every watcher's output show
// it), keeps a --namespace's keys apart, registers under --resolver-prefix with a lease
// (MemberList through it lists the registered proxies), and keeps serving — reads,
// writes and open watches — after the member it was using is killed.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Cluster, eventually } from '../e2e/cluster.js';
import { etcdctl } from '../e2e/harness.js';
import { startProxy, watchWithEtcdctl, type RunningProxy } from './helpers.js';

let cluster: Cluster;
let proxy: RunningProxy;

before(async () => {
  cluster = await Cluster.start({ size: 3 });
  proxy = await startProxy({
    endpoints: cluster.members.map((m) => m.clientUrl.replace('http://', '')),
    logPath: path.join(cluster.dir, 'proxy.log'),
    extraArgs: ['--resolver-prefix=proxies', '--resolver-ttl=5', '--advertise-client-url=127.0.0.1:1'],
  });
});

after(async () => {
  await proxy?.stop();
  await cluster?.destroy();
});

const ctl = (args: string[], stdin?: string) => etcdctl(proxy.addr, args, stdin);

test('etcdctl through the proxy: put, get, txn, lease, del', async () => {
  assert.equal((await ctl(['put', 'p/a', '1'])).stdout, 'OK\n');
  assert.equal((await ctl(['get', 'p/a', '--print-value-only'])).stdout, '1\n');
  const txn = await ctl(['txn'], 'value("p/a") = "1"\n\nput p/a 2\n\nput p/a nope\n\n');
  assert.equal(txn.stdout, 'SUCCESS\n\nOK\n', txn.stderr);
  // the member sees the write the proxy forwarded
  assert.equal((await etcdctl(cluster.members[2]!.clientUrl, ['get', 'p/a', '--print-value-only'])).stdout, '2\n');
  const grant = await ctl(['lease', 'grant', '60']);
  const id = /^lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
  assert.ok(id, grant.stdout + grant.stderr);
  assert.equal((await ctl(['put', 'p/leased', 'x', `--lease=${id}`])).code, 0);
  const ttl = await ctl(['lease', 'timetolive', id, '--keys']);
  assert.match(ttl.stdout, /attached keys\(\[p\/leased\]\)/);
  const ka = await ctl(['lease', 'keep-alive', '--once', id]);
  assert.match(ka.stdout, new RegExp(`lease ${id} keepalived with TTL\\(\\d+\\)`), ka.stderr);
  assert.equal((await ctl(['lease', 'revoke', id])).code, 0);
  assert.equal((await ctl(['get', 'p/leased'])).stdout, '');
  assert.equal((await ctl(['del', 'p/a'])).stdout, '1\n');
  // streaming calls are passed through: a snapshot arrives whole; a lock is taken and released
  const file = path.join(cluster.dir, 'through-proxy.db');
  const snap = await ctl(['snapshot', 'save', file]);
  assert.equal(snap.code, 0, snap.stderr);
  const status = await etcdctl(proxy.addr, ['snapshot', 'status', file, '-w', 'json']);
  assert.ok(JSON.parse(status.stdout).totalKey > 0, status.stdout + status.stderr);
  const lock = await ctl(['lock', 'p/mutex', 'echo', 'held']);
  assert.equal(lock.stdout, 'held\n', lock.stderr);
});

test('serializable reads are served from the cache until a write through the proxy touches them', async () => {
  await ctl(['put', 'c/k', 'v1']);
  assert.equal((await ctl(['get', 'c/k', '--print-value-only'])).stdout, 'v1\n'); // linearizable: cached
  const hits = await proxy.metric('etcd_grpc_proxy_cache_hits_total');
  assert.equal((await ctl(['get', 'c/k', '--print-value-only', '--consistency=s'])).stdout, 'v1\n');
  assert.equal(await proxy.metric('etcd_grpc_proxy_cache_hits_total'), hits + 1);
  // a write straight to a member is not seen by the cache: the proxy answers the old value
  await etcdctl(cluster.members[0]!.clientUrl, ['put', 'c/k', 'direct']);
  assert.equal((await ctl(['get', 'c/k', '--print-value-only', '--consistency=s'])).stdout, 'v1\n');
  // a write through the proxy drops the cached range (here: a prefix range holding c/k)
  await ctl(['put', 'c/k2', 'x']);
  await ctl(['get', 'c/', '--prefix', '--consistency=s']);
  await ctl(['put', 'c/k', 'v2']);
  assert.equal((await ctl(['get', 'c/k', '--print-value-only', '--consistency=s'])).stdout, 'v2\n');
  assert.equal((await ctl(['get', 'c/', '--prefix', '--keys-only', '--consistency=s'])).stdout, 'c/k\n\nc/k2\n\n');
});

test('twelve identical watches share one upstream watch, and each gets every event', async () => {
  const upstreamBefore = await proxy.metric('tsetcd_grpc_proxy_upstream_watches');
  const watches = Array.from({ length: 12 }, () => watchWithEtcdctl(proxy.addr, ['w/key']));
  try {
    await eventually('12 client watches', 15_000, async () => ((await proxy.metric('tsetcd_grpc_proxy_client_watches')) >= 12 ? true : undefined));
    // one broadcast for all (joining late ones are merged once they caught up)
    await eventually('one upstream watch', 15_000, async () => ((await proxy.metric('tsetcd_grpc_proxy_upstream_watches')) === upstreamBefore + 1 ? true : undefined));
    assert.equal(await proxy.metric('etcd_grpc_proxy_watchers_coalescing_total'), 11);
    for (let i = 1; i <= 3; i++) await ctl(['put', 'w/key', `v${i}`]);
    await eventually('every watcher saw three events', 15_000, async () => (watches.every((w) => w.output() === 'PUT\nw/key\nv1\nPUT\nw/key\nv2\nPUT\nw/key\nv3\n') ? true : undefined));
    assert.ok((await proxy.metric('etcd_grpc_proxy_events_coalescing_total')) >= 33);
  } finally {
    await Promise.all(watches.map((w) => w.stop()));
  }
  await eventually('upstream watch closed after the clients left', 15_000, async () => ((await proxy.metric('tsetcd_grpc_proxy_upstream_watches')) === upstreamBefore ? true : undefined));
});

test('a watch from an old revision gets the history, then joins the others', async () => {
  const first = await ctl(['put', 'h/k', 'old', '-w', 'json']);
  const rev = JSON.parse(first.stdout).header.revision as number;
  await ctl(['put', 'h/k', 'newer']);
  const live = watchWithEtcdctl(proxy.addr, ['h/k']);
  const history = watchWithEtcdctl(proxy.addr, ['h/k', `--rev=${rev}`]);
  try {
    await eventually('history delivered', 15_000, async () => (history.output() === 'PUT\nh/k\nold\nPUT\nh/k\nnewer\n' ? true : undefined));
    await ctl(['put', 'h/k', 'latest']);
    await eventually('both see the new write once', 15_000, async () =>
      history.output().endsWith('newer\nPUT\nh/k\nlatest\n') && live.output() === 'PUT\nh/k\nlatest\n' ? true : undefined,
    );
  } finally {
    await live.stop();
    await history.stop();
  }
});

test('member list through the proxy lists the proxies registered under the prefix, and the registration holds a lease', async () => {
  const second = await startProxy({
    endpoints: [cluster.members[1]!.clientUrl.replace('http://', '')],
    logPath: path.join(cluster.dir, 'proxy2.log'),
    extraArgs: ['--resolver-prefix=proxies', '--resolver-ttl=5', '--advertise-client-url=127.0.0.1:2'],
  });
  try {
    const listed = await eventually('both proxies registered', 15_000, async () => {
      const out = (await ctl(['member', 'list'])).stdout;
      return out.includes('127.0.0.1:1') && out.includes('127.0.0.1:2') ? out : undefined;
    });
    assert.equal(listed.trim().split('\n').length, 2, listed);
    const rec = await etcdctl(cluster.members[0]!.clientUrl, ['get', 'proxies/127.0.0.1:2', '-w', 'json']);
    const kv = JSON.parse(rec.stdout).kvs[0];
    assert.deepEqual(JSON.parse(Buffer.from(kv.value, 'base64').toString()).Addr, '127.0.0.1:2');
    assert.ok(kv.lease, 'registered under a lease');
    // the lease is kept alive past its 5 s TTL
    await new Promise((r) => setTimeout(r, 6500));
    assert.equal((await etcdctl(cluster.members[0]!.clientUrl, ['get', 'proxies/127.0.0.1:2', '--keys-only'])).stdout, 'proxies/127.0.0.1:2\n\n');
    await second.stop();
    // stopped: its lease runs out and it leaves the list
    await eventually('second proxy gone from the list', 20_000, async () => (!(await ctl(['member', 'list'])).stdout.includes('127.0.0.1:2') ? true : undefined));
  } finally {
    await second.stop();
  }
});

test('auth: the caller\'s token goes upstream, so each user gets their own permissions', async () => {
  const ep = cluster.members[0]!.clientUrl;
  for (const args of [
    ['user', 'add', 'root:rootpw'],
    ['role', 'add', 'reader'],
    ['role', 'grant-permission', 'reader', 'read', 'sec/', '--prefix'],
    ['user', 'add', 'alice:alicepw'],
    ['user', 'grant-role', 'alice', 'reader'],
  ]) {
    const r = await etcdctl(ep, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  await etcdctl(ep, ['put', 'sec/k', 'secret']);
  assert.equal((await etcdctl(ep, ['auth', 'enable'])).code, 0);
  try {
    // root's (linearizable) read fills the cache; alice's serializable read of the same
    // range must not be answered from root's entry, but by the member under her token
    const asRoot = await ctl(['--user=root:rootpw', 'get', 'sec/k', '--print-value-only']);
    assert.equal(asRoot.stdout, 'secret\n', asRoot.stderr);
    const hits = await proxy.metric('etcd_grpc_proxy_cache_hits_total');
    const misses = await proxy.metric('etcd_grpc_proxy_cache_misses_total');
    const asAlice = await ctl(['--user=alice:alicepw', 'get', 'sec/k', '--print-value-only', '--consistency=s']);
    assert.equal(asAlice.stdout, 'secret\n', asAlice.stderr);
    assert.equal(await proxy.metric('etcd_grpc_proxy_cache_hits_total'), hits);
    assert.equal(await proxy.metric('etcd_grpc_proxy_cache_misses_total'), misses + 1);
    const outside = await ctl(['--user=alice:alicepw', 'get', 'other']);
    assert.match(outside.stderr, /permission denied/);
    const denied = await ctl(['--user=alice:alicepw', 'put', 'sec/k', 'x']);
    assert.match(denied.stderr, /permission denied/);
    const anonymous = await ctl(['get', 'sec/k']);
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /user name is empty|permission denied|invalid auth token/);
  } finally {
    assert.equal((await etcdctl(ep, ['--user=root:rootpw', 'auth', 'disable'])).code, 0);
  }
});

test('--endpoints-auto-sync-interval: given one member, the proxy learns the others and outlives that one', async () => {
  const only = cluster.members[1]!;
  const synced = await startProxy({
    endpoints: [only.clientUrl],
    logPath: path.join(cluster.dir, 'proxy-sync.log'),
    extraArgs: ['--endpoints-auto-sync-interval=200ms'],
  });
  try {
    await new Promise((r) => setTimeout(r, 1000)); // a few syncs
    await cluster.kill(only);
    const r = await eventually('a write through the proxy after its only endpoint died', 20_000, async () => {
      const put = await etcdctl(synced.addr, ['put', 'sync/k', 'v']);
      return put.code === 0 ? put : undefined;
    });
    assert.equal(r.stdout, 'OK\n');
  } finally {
    await synced.stop();
    await cluster.restart(only);
  }
});

test('the proxy keeps serving reads, writes and open watches after its member is killed', async () => {
  const watch = watchWithEtcdctl(proxy.addr, ['k/kill']);
  try {
    await ctl(['put', 'k/kill', 'before']);
    await eventually('watch saw the first write', 15_000, async () => (watch.output().includes('before') ? true : undefined));
    // the member answering through the proxy (endpoint status is passed through) is killed
    const status = await ctl(['endpoint', 'status']);
    const usedId = status.stdout.split(', ')[1];
    const used = cluster.members.find((m) => m.id === usedId);
    assert.ok(used, `no member with id ${usedId}: ${status.stdout}${status.stderr}`);
    await cluster.kill(used);
    const put = await eventually('a write through the proxy', 20_000, async () => {
      const r = await ctl(['put', 'k/kill', 'after']);
      return r.code === 0 ? r : undefined;
    });
    assert.equal(put.stdout, 'OK\n');
    assert.equal((await ctl(['get', 'k/kill', '--print-value-only'])).stdout, 'after\n');
    await eventually('the open watch saw the write made after the kill', 20_000, async () => (watch.output() === 'PUT\nk/kill\nbefore\nPUT\nk/kill\nafter\n' ? true : undefined));
  } finally {
    await watch.stop();
  }
});

test('--namespace: clients see their keys without the prefix; the cluster holds them under it', async () => {
  const nsProxy = await startProxy({
    endpoints: [cluster.members[1]!.clientUrl.replace('http://', ''), cluster.members[2]!.clientUrl.replace('http://', '')],
    logPath: path.join(cluster.dir, 'proxy-ns.log'),
    extraArgs: ['--namespace=tenant1/'],
  });
  const nctl = (args: string[], stdin?: string) => etcdctl(nsProxy.addr, args, stdin);
  const watch = watchWithEtcdctl(nsProxy.addr, ['', '--prefix', '--prev-kv']);
  try {
    await etcdctl(cluster.members[1]!.clientUrl, ['put', 'outside', 'not mine']);
    assert.equal((await nctl(['put', 'a', '1'])).stdout, 'OK\n');
    assert.equal((await etcdctl(cluster.members[1]!.clientUrl, ['get', 'tenant1/a', '--print-value-only'])).stdout, '1\n');
    const txn = await nctl(['txn'], 'value("a") = "1"\n\nput b 2\n\n\n');
    assert.equal(txn.stdout, 'SUCCESS\n\nOK\n', txn.stderr);
    // "every key" means every key of the namespace
    assert.equal((await nctl(['get', '', '--prefix', '--keys-only'])).stdout, 'a\n\nb\n\n');
    assert.equal((await nctl(['get', 'a', '--from-key', '--keys-only'])).stdout, 'a\n\nb\n\n');
    assert.equal((await nctl(['del', '', '--prefix', '--prev-kv'])).stdout, '2\na\n1\nb\n2\n');
    assert.equal((await etcdctl(cluster.members[1]!.clientUrl, ['get', 'outside', '--print-value-only'])).stdout, 'not mine\n');
    // etcdctl prints a delete's previous key and value before the event's own
    const expected = 'PUT\na\n1\nPUT\nb\n2\nDELETE\na\n1\na\n\nDELETE\nb\n2\nb\n\n';
    await eventually('the watch saw the namespace keys, prefix stripped', 15_000, async () => (watch.output() === expected ? true : undefined)).catch(() => {
      assert.equal(watch.output(), expected);
    });
  } finally {
    await watch.stop();
    await nsProxy.stop();
  }
});

test('a watching client that stops reading is cut off once 1024 responses wait for it; others go on', async () => {
  const { default: http2 } = await import('node:http2');
  const { frameMessage } = await import('../../src/api/grpc/framing.js');
  const { WatchRequest, PutRequest } = await import('../../src/proto/etcdserverpb.js');
  const { UnaryClient } = await import('../../src/client/unary-client.js');
  // a client with small windows that never reads what it is sent
  const session = http2.connect(`http://${proxy.addr}`, { settings: { initialWindowSize: 16 * 1024 } });
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
  req.pause();
  let status: string | undefined;
  req.on('trailers', (t) => (status = String(t['grpc-status'])));
  req.on('response', (h) => (status ??= h['grpc-status'] === undefined ? undefined : String(h['grpc-status'])));
  req.on('error', () => {});
  req.write(frameMessage(WatchRequest.encode({ create_request: { key: Buffer.from('slow/k'), range_end: new Uint8Array(0), start_revision: 0, progress_notify: false, filters: [], prev_kv: false, watch_id: 0, fragment: false } })));
  const healthy = watchWithEtcdctl(proxy.addr, ['slow/k']);
  const writer = new UnaryClient(`http://${proxy.addr}`);
  try {
    await eventually('both watches open', 15_000, async () => ((await proxy.metric('tsetcd_grpc_proxy_client_watches')) >= 2 ? true : undefined));
    const value = Buffer.alloc(4096, 'v');
    for (let i = 0; i < 1100; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () => writer.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from('slow/k'), value })))));
    }
    // the proxy let go of the stalled watch; once the client reads again, it finds the end
    await eventually('the stalled watch released', 30_000, async () => ((await proxy.metric('tsetcd_grpc_proxy_client_watches')) === 1 ? true : undefined));
    req.on('data', () => {});
    req.resume();
    await eventually('the stalled stream was ended with Canceled', 20_000, async () => (status === '1' ? true : undefined));
    await eventually('the reading watcher got all 1100 events', 30_000, async () => (healthy.output().split('\n').filter((l) => l === 'PUT').length === 1100 ? true : undefined));
  } finally {
    writer.close();
    session.destroy();
    await healthy.stop();
  }
});

test('--max-send-bytes and --max-recv-bytes bound what the proxy sends to and takes from the cluster', async () => {
  const limited = await startProxy({
    endpoints: [cluster.members[1]!.clientUrl],
    logPath: path.join(cluster.dir, 'proxy-limits.log'),
    extraArgs: ['--max-send-bytes=1024', '--max-recv-bytes=2048'],
  });
  try {
    const big = await etcdctl(limited.addr, ['put', 'lim/big', 'x'.repeat(2000)]);
    assert.match(big.stderr, /ResourceExhausted desc = trying to send message larger than max \(\d+ vs\. 1024\)/);
    for (const k of ['a', 'b', 'c']) assert.equal((await etcdctl(limited.addr, ['put', `lim/${k}`, 'y'.repeat(900)])).stdout, 'OK\n');
    const many = await etcdctl(limited.addr, ['get', 'lim/', '--prefix']);
    assert.match(many.stderr, /ResourceExhausted desc = grpc: received message larger than max \(\d+ vs\. 2048\)/);
    assert.equal((await etcdctl(limited.addr, ['get', 'lim/a', '--print-value-only'])).stdout, `${'y'.repeat(900)}\n`);
    // streams too: a snapshot comes in pieces far above 2048 bytes
    const snap = await etcdctl(limited.addr, ['snapshot', 'save', path.join(cluster.dir, 'limited.db')]);
    assert.notEqual(snap.code, 0);
    assert.match(snap.stderr, /received message larger than max \(\d+ vs\. 2048\)/);
  } finally {
    await limited.stop();
  }
});
