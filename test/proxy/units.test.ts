// Proves the proxy's pure parts behave as etcd's: flag parsing (pflag's forms and error
// texts, etcd's checkArgs sentences, defaults), the range cache (LRU bound, invalidation
// by intersecting ranges with etcd's range_end conventions, compaction, per-token keys
// are the caller's business) and the namespace mapping (etcd's prefixInterval, stripping).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProxyArgs, startHelp } from '../../src/proxy/flags.js';
import { intersects, RangeCache } from '../../src/proxy/cache.js';
import { Namespace } from '../../src/proxy/namespace.js';
import { endpointRecord } from '../../src/proxy/register.js';

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

test('flags: defaults are etcd\'s', () => {
  const r = parseProxyArgs(['start']);
  assert.equal(r.action, 'run');
  if (r.action !== 'run') return;
  assert.deepEqual(r.config.endpoints, ['127.0.0.1:2379']);
  assert.equal(r.config.listenAddr, '127.0.0.1:23790');
  assert.equal(r.config.advertiseClientUrl, '127.0.0.1:23790');
  assert.equal(r.config.maxSendBytes, 1572864);
  assert.equal(r.config.maxRecvBytes, 2147483647);
  assert.equal(r.config.dataDir, 'default.proxy');
  assert.deepEqual(r.config.keepalive, { minTimeMs: 5000, intervalMs: 7_200_000, timeoutMs: 20_000 });
});

test('flags: --a=b, --a b, bare booleans, lists split and appended', () => {
  const r = parseProxyArgs(['start', '--endpoints=a:1,b:2', '--endpoints', 'c:3', '--namespace', 'ns/', '--debug', '--auto-tls=false', '--resolver-prefix=p', '--resolver-ttl=7', '--grpc-keepalive-min-time=1m30s']);
  assert.equal(r.action, 'run');
  if (r.action !== 'run') return;
  assert.deepEqual(r.config.endpoints, ['a:1', 'b:2', 'c:3']);
  assert.equal(r.config.namespace, 'ns/');
  assert.equal(r.config.debug, true);
  assert.equal(r.config.serveTls.autoTls, false);
  assert.equal(r.config.resolverTtlSec, 7);
  assert.equal(r.config.keepalive.minTimeMs, 90_000);
});

test('flags: mistakes get pflag\'s and etcd\'s sentences', () => {
  const err = (args: string[]) => {
    const r = parseProxyArgs(['start', ...args]);
    assert.equal(r.action, 'error', JSON.stringify(r));
    return r.action === 'error' ? r : undefined!;
  };
  assert.deepEqual(err(['--bogus']), { action: 'error', message: 'unknown flag: --bogus', usage: true });
  assert.equal(err(['--listen-addr']).message, 'flag needs an argument: --listen-addr');
  assert.equal(err(['--resolver-ttl=x']).message, 'invalid argument "x" for "--resolver-ttl" flag: strconv.ParseInt: parsing "x": invalid syntax');
  assert.equal(err(['-listen-addr=x']).message, "unknown shorthand flag: 'l' in -listen-addr=x");
  assert.deepEqual(err(['--resolver-prefix=p']), { action: 'error', message: 'invalid resolver-ttl 0', usage: false });
  assert.equal(err(['--resolver-ttl=5']).message, 'invalid resolver-prefix ""');
  assert.equal(err(['--resolver-prefix=p', '--resolver-ttl=5', '--advertise-client-url=']).message, 'invalid advertise-client-url ""');
  assert.equal(err(['--tls-min-version=TLS1.3', '--listen-cipher-suites=TLS_RSA_WITH_AES_128_GCM_SHA256']).message, 'cipher suites cannot be configured when only TLS1.3 is enabled');
  assert.equal(err(['--tls-min-version=TLS1.3', '--tls-max-version=TLS1.2']).message, 'min version (TLS1.3) is greater than max version (TLS1.2)');
  assert.deepEqual(parseProxyArgs(['stop']), { action: 'error', message: 'unknown command "stop" for "tsetcd grpc-proxy"', usage: false });
});

test('flags: --help lists every flag with its default', () => {
  const r = parseProxyArgs(['start', '--help']);
  assert.equal(r.action, 'help');
  const help = startHelp();
  for (const f of ['--endpoints strings', '--listen-addr string', '--resolver-ttl int', '--max-concurrent-streams uint32', '--auto-tls', '--grpc-keepalive-interval duration', '-h, --help']) assert.ok(help.includes(f), f);
  assert.match(help, /--listen-addr string +listen address \(default "127\.0\.0\.1:23790"\)/);
});

test('cache: intersection follows etcd\'s range_end conventions', () => {
  assert.ok(intersects(b('a'), b(''), b('a'), b('')));
  assert.ok(!intersects(b('a'), b(''), b('b'), b('')));
  assert.ok(intersects(b('a'), b('c'), b('b'), b('')));
  assert.ok(!intersects(b('a'), b('c'), b('c'), b('')));
  assert.ok(intersects(b('x'), b([0]), b('zz'), b(''))); // "x" to the end of the keyspace
  assert.ok(!intersects(b('x'), b([0]), b('a'), b('b')));
  assert.ok(intersects(b('a'), b('b'), b(''), b([0])));
});

test('cache: a write drops the ranges it touches; LRU bound; compaction drops pinned answers', () => {
  const c = new RangeCache(3);
  c.add('k1', b('a'), b(''), 0, b('A'));
  c.add('k2', b('p/'), b('p0'), 0, b('P'));
  c.add('k3', b('z'), b(''), 5, b('Z5'));
  c.invalidate(b('p/x'), b(''));
  assert.equal(c.get('k2'), undefined);
  assert.deepEqual(c.get('k1'), b('A'));
  c.add('k4', b('m'), b(''), 0, b('M'));
  c.add('k5', b('n'), b(''), 0, b('N')); // over the bound: the least recently used (k3) goes
  assert.equal(c.get('k3'), undefined);
  assert.equal(c.size, 3);
  c.add('k6', b('q'), b(''), 4, b('Q4'));
  c.compact(4);
  assert.equal(c.get('k6'), undefined);
  c.add('k7', b('q'), b(''), 3, b('Q3')); // below the compaction: never stored
  assert.equal(c.get('k7'), undefined);
  assert.deepEqual(c.get('k5'), b('N'));
});

test('namespace: prefixInterval and stripping', () => {
  const ns = new Namespace('t/');
  assert.deepEqual(ns.interval(b('a'), b('')), { key: b('t/a'), end: b('') });
  assert.deepEqual(ns.interval(b('a'), b('b')), { key: b('t/a'), end: b('t/b') });
  assert.deepEqual(ns.interval(b([0]), b([0])), { key: b([0x74, 0x2f, 0]), end: b('t0') });
  assert.deepEqual(new Namespace('\xff').interval(b('a'), b([0])).end, b([0xc3, 0xc0])); // UTF-8 of U+00FF, last byte + 1
  assert.deepEqual(Buffer.from(ns.strip(b('t/abc'))), b('abc'));
  assert.deepEqual(ns.leaseKeys([b('t/x'), b('other'), b('t/')]).map((k) => Buffer.from(k).toString()), ['x', '']);
  assert.throws(() => ns.put({ key: new Uint8Array(0), value: b('v'), lease: 0n, prev_kv: false, ignore_value: false, ignore_lease: false }), /key is not provided/);
  const rr = ns.range({ key: b('a'), range_end: b([0]) } as never);
  assert.deepEqual([Buffer.from(rr.key), Buffer.from(rr.range_end)], [b('t/a'), b('t0')]);
});

test('registration record is etcd\'s endpoint JSON', () => {
  assert.equal(endpointRecord('127.0.0.1:23790', 'vm'), '{"Op":0,"Addr":"127.0.0.1:23790","Metadata":"{\\"name\\":\\"vm\\"}"}');
});

test('serializable ordering: a read from a member behind what was seen goes to the next member', async () => {
  const { Upstream } = await import('../../src/proxy/upstream.js');
  const { SerializableOrdering } = await import('../../src/proxy/kv-proxy.js');
  const { RangeResponse } = await import('../../src/proto/etcdserverpb.js');
  const up = new Upstream(['m1:1', 'm2:2', 'm3:3'], { cert: '', key: '', ca: '', insecureSkipVerify: false });
  const revisionAt: Record<string, number> = { 'http://m1:1': 5, 'http://m2:2': 9, 'http://m3:3': 7 };
  const answer = async () => RangeResponse.encode(RangeResponse.create({ header: { cluster_id: 0n, member_id: 0n, revision: revisionAt[up.endpoint]!, raft_term: 0 } }));
  const o = new SerializableOrdering();
  o.saw(8);
  const got = RangeResponse.decode(await o.read(up, answer));
  assert.equal(got.header?.revision, 9);
  assert.equal(up.endpoint, 'http://m2:2', 'the proxy stays on the member that was recent enough');
  o.saw(20);
  await assert.rejects(o.read(up, answer), /no cluster members have a revision higher than the previously received revision/);
  up.close();
});
