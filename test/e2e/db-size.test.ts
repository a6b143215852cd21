// Proves `etcdctl endpoint status` reports dbSizeInUse apart from dbSize, as etcd does:
// after many deletes and a compaction the bytes in use are well below the file size,
// and a defrag brings the file size back down.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { UnaryClient } from '../../src/client/unary-client.js';
import { PutRequest } from '../../src/proto/etcdserverpb.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, startMember, TSETCD_BIN } from './harness.js';

interface Sizes {
  dbSize: number;
  dbSizeInUse: number;
}

async function sizes(ep: string): Promise<Sizes> {
  const r = await etcdctl(ep, ['endpoint', 'status', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout)[0].Status;
  return { dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse };
}

test('dbSizeInUse falls below dbSize after deletes and a compaction', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports: await freePorts() });
  const ep = member.clientUrl;
  const client = new UnaryClient(ep);
  try {
    const value = Buffer.alloc(4000, 0x61);
    for (let i = 0; i < 1000; i++) {
      const req = PutRequest.create({ key: Buffer.from(`big/${i}`), value });
      await client.call('/etcdserverpb.KV/Put', PutRequest.encode(req), { timeoutMs: 10_000 });
    }
    const full = await sizes(ep);
    assert.ok(full.dbSizeInUse >= 4_000_000 && full.dbSizeInUse <= full.dbSize, JSON.stringify(full));

    assert.equal((await etcdctl(ep, ['del', 'big/', '--prefix'])).stdout, '1000\n');
    const rev = JSON.parse((await etcdctl(ep, ['get', 'x', '-w', 'json'])).stdout).header.revision;
    assert.equal((await etcdctl(ep, ['compact', String(rev), '--physical'])).stdout, `compacted revision ${rev}\n`);
    // the backend commits every 100 ms; status reads what is committed
    let after = await sizes(ep);
    for (let i = 0; i < 50 && after.dbSizeInUse > full.dbSizeInUse / 4; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await sizes(ep);
    }
    assert.ok(after.dbSize >= full.dbSize, 'the file keeps its size until a defrag');
    assert.ok(after.dbSizeInUse < full.dbSizeInUse / 4, `in use fell from ${full.dbSizeInUse} to ${after.dbSizeInUse}`);

    assert.equal((await etcdctl(ep, ['defrag'])).code, 0);
    const defragged = await sizes(ep);
    assert.ok(defragged.dbSize < full.dbSize / 4, `defrag shrank the file: ${JSON.stringify(defragged)}`);
    assert.ok(defragged.dbSizeInUse <= defragged.dbSize);
  } finally {
    client.close();
    await member.stop();
    cleanup();
  }
});
