// /metrics speaks etcd's metric names, on the client URL and on --listen-metrics-urls.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePort, freePorts, haveBinary, startMember, TSETCD_BIN } from './harness.js';

function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

test('etcd metric names with live values', async () => {
  const { dir, cleanup } = tempDir();
  const metricsPort = await freePort();
  const member = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'm'),
    ports: await freePorts(),
    extraArgs: [`--listen-metrics-urls=http://127.0.0.1:${metricsPort}`],
  });
  try {
    for (let i = 0; i < 5; i++) await etcdctl(member.clientUrl, ['put', `k${i}`, 'v']);
    await etcdctl(member.clientUrl, ['get', 'k0']);
    for (const url of [`${member.clientUrl}/metrics`, `http://127.0.0.1:${metricsPort}/metrics`]) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.equal(metric(text, 'etcd_server_has_leader'), 1, url);
      assert.equal(metric(text, 'etcd_server_is_leader'), 1);
      assert.equal(metric(text, 'etcd_server_leader_changes_seen_total'), 1, 'the election at start-up');
      assert.ok(metric(text, 'etcd_server_proposals_committed_total')! >= 5);
      assert.equal(metric(text, 'etcd_server_proposals_applied_total'), metric(text, 'etcd_server_proposals_committed_total'));
      assert.equal(metric(text, 'etcd_server_proposals_pending'), 0);
      assert.equal(metric(text, 'etcd_server_proposals_failed_total'), 0);
      assert.ok(metric(text, 'etcd_mvcc_db_total_size_in_bytes')! > 0);
      assert.equal(metric(text, 'etcd_debugging_mvcc_keys_total'), 5);
      assert.ok(metric(text, 'etcd_disk_wal_fsync_duration_seconds_count')! >= 5);
      assert.ok(metric(text, 'etcd_disk_backend_commit_duration_seconds_count') !== undefined);
      assert.equal(metric(text, 'grpc_server_handled_total', { grpc_method: 'Put', grpc_code: 'OK', grpc_service: 'etcdserverpb.KV' }), 5);
      assert.ok(metric(text, 'grpc_server_handled_total', { grpc_method: 'Range', grpc_code: 'OK' })! >= 1);
      assert.ok(metric(text, 'process_resident_memory_bytes')! > 0);
    }
    const health = await fetch(`http://127.0.0.1:${metricsPort}/health`);
    assert.deepEqual(await health.json(), { health: 'true', reason: '' });
  } finally {
    await member.stop();
    cleanup();
  }
});

/** The label sets (le included) of a histogram's buckets for one method, sorted. */
function bucketLabels(text: string, name: string, method: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}_bucket{`) && l.includes(`grpc_method="${method}"`))
    .map((l) => l.slice(l.indexOf('{') + 1, l.indexOf('}')).split(',').sort().join(','))
    .sort();
}

// --metrics=extensive adds go-grpc-prometheus's grpc_server_handling_seconds: the same
// labels and buckets as real etcd 3.4's (compared when etcd is installed), one count per
// call; with the default (basic) it is absent, as in etcd.
test('--metrics=extensive: the gRPC handling-time histogram as etcd exports it', async () => {
  const { dir, cleanup } = tempDir();
  const scrape = async (bin: string, metrics: string): Promise<string> => {
    const member = await startMember({ bin, dataDir: path.join(dir, `${path.basename(bin)}-${metrics}`), ports: await freePorts(), extraArgs: [`--metrics=${metrics}`] });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await etcdctl(member.clientUrl, ['put', `k${i}`, 'v'])).code, 0);
      return await (await fetch(`${member.clientUrl}/metrics`)).text();
    } finally {
      await member.stop();
    }
  };
  try {
    const basic = await scrape(TSETCD_BIN, 'basic');
    assert.equal(metric(basic, 'grpc_server_handling_seconds_count', { grpc_method: 'Put' }), undefined, 'basic metrics have no handling histogram');
    const extensive = await scrape(TSETCD_BIN, 'extensive');
    assert.equal(metric(extensive, 'grpc_server_handling_seconds_count', { grpc_method: 'Put', grpc_type: 'unary', grpc_service: 'etcdserverpb.KV' }), 3);
    assert.ok(metric(extensive, 'grpc_server_handling_seconds_sum', { grpc_method: 'Put' })! > 0);
    assert.equal(metric(extensive, 'grpc_server_handling_seconds_bucket', { grpc_method: 'Put', le: '+Inf' }), 3);
    const ours = bucketLabels(extensive, 'grpc_server_handling_seconds', 'Put');
    assert.equal(ours.length, 12, 'eleven default buckets and +Inf');
    if (haveBinary('etcd')) {
      const etcd = await scrape('etcd', 'extensive');
      assert.deepEqual(ours, bucketLabels(etcd, 'grpc_server_handling_seconds', 'Put'), 'the same label sets as etcd 3.4');
    }
  } finally {
    cleanup();
  }
});
