// No acknowledged write is lost: kill -9 during a write load, a torn WAL tail, and a
// WAL corrupted in the middle (which must stop the member and change nothing).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { KvClient } from './client.js';
import { freePorts, startMember, TSETCD_BIN } from './harness.js';

interface Acked {
  key: string;
  value: string;
  revision: number;
}

function walFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'member', 'wal');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort()
    .map((f) => path.join(dir, f));
}

async function assertAllPresent(client: KvClient, acked: Acked[]): Promise<void> {
  for (const a of acked) {
    const r = await client.get(a.key);
    assert.equal(r.kvs.length, 1, `acknowledged key ${a.key} (revision ${a.revision}) is missing`);
    assert.equal(Buffer.from(r.kvs[0]!.value).toString(), a.value, `value of ${a.key}`);
    assert.equal(r.kvs[0]!.mod_revision, a.revision, `revision of ${a.key}`);
  }
}

test('kill -9 during a write load loses no acknowledged write', async () => {
  const { dir, cleanup } = tempDir();
  const dataDir = path.join(dir, 'm');
  const ports = await freePorts();
  try {
    const member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const acked: Acked[] = [];
    let running = true;
    const writers = Array.from({ length: 32 }, async (_, w) => {
      const client = new KvClient(member.clientUrl);
      for (let i = 0; running; i++) {
        const key = `w${w}/k${i % 50}`;
        const value = `v${i}`;
        try {
          const resp = await client.put(key, value);
          acked.push({ key, value, revision: resp.header!.revision });
        } catch {
          break; // the member is gone: this write was never acknowledged
        }
      }
      client.close();
    });
    await new Promise((r) => setTimeout(r, 1500));
    await member.kill();
    running = false;
    await Promise.all(writers);
    assert.ok(acked.length > 100, `only ${acked.length} writes were acknowledged before the kill`);

    // later writes to a key overwrite earlier ones: check the last acknowledged per key
    const last = new Map<string, Acked>();
    for (const a of acked) if ((last.get(a.key)?.revision ?? 0) < a.revision) last.set(a.key, a);
    const revisions = acked.map((a) => a.revision);
    assert.equal(new Set(revisions).size, revisions.length, 'two acknowledged writes share a revision');

    const again = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const client = new KvClient(again.clientUrl);
    try {
      // A write may be durable without its acknowledgement reaching the client before the
      // kill, so a key may hold a newer value than the last one acknowledged; but every
      // acknowledged write is there, at its revision.
      for (const a of last.values()) {
        const now = await client.get(a.key);
        assert.ok((now.kvs[0]?.mod_revision ?? 0) >= a.revision, `acknowledged write to ${a.key} at ${a.revision} is missing`);
      }
      for (const a of acked) {
        const r = await client.get(a.key, { revision: a.revision });
        assert.equal(r.kvs.length, 1, `${a.key} at revision ${a.revision} is missing`);
        assert.equal(Buffer.from(r.kvs[0]!.value).toString(), a.value, `${a.key} at revision ${a.revision}`);
        assert.equal(r.kvs[0]!.mod_revision, a.revision);
      }
      const after = await client.put('after-restart', 'ok');
      assert.ok(after.header!.revision > Math.max(...revisions));
    } finally {
      client.close();
      await again.stop();
    }
  } finally {
    cleanup();
  }
});

test('a torn last WAL record is cut off and the member starts with everything before it', async () => {
  const { dir, cleanup } = tempDir();
  const dataDir = path.join(dir, 'm');
  const ports = await freePorts();
  try {
    const member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const client = new KvClient(member.clientUrl);
    const acked: Acked[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await client.put(`k${i}`, `v${i}`);
      acked.push({ key: `k${i}`, value: `v${i}`, revision: r.header!.revision });
    }
    client.close();
    await member.kill();

    // Keep the member's state as of now, then let it append one more write.
    const saved = path.join(dir, 'saved');
    fs.cpSync(dataDir, saved, { recursive: true });
    const second = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const c1 = new KvClient(second.clientUrl);
    await c1.put('torn', 'x'.repeat(200));
    c1.close();
    await second.kill();
    const grown = fs.readFileSync(walFiles(dataDir).at(-1)!);

    // Crash simulation: the member as it was, plus the later appends cut short in the
    // middle of the record of that write, as if the machine died while writing it (so it
    // was never acknowledged nor applied).
    fs.rmSync(dataDir, { recursive: true });
    fs.cpSync(saved, dataDir, { recursive: true });
    const walPath = walFiles(dataDir).at(-1)!;
    const at = grown.lastIndexOf(Buffer.from('x'.repeat(200)));
    assert.ok(at > 0, 'the write is in the WAL');
    fs.writeFileSync(walPath, grown.subarray(0, at + 100));

    const again = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const c2 = new KvClient(again.clientUrl);
    try {
      await assertAllPresent(c2, acked);
      assert.equal((await c2.get('torn')).kvs.length, 0, 'the torn write must not be applied');
      const log = fs.readFileSync(again.logPath, 'utf8');
      assert.match(log, /repaired the torn tail of the WAL/);
      const r = await c2.put('after', 'repair');
      acked.push({ key: 'after', value: 'repair', revision: r.header!.revision });
    } finally {
      c2.close();
      await again.stop();
    }
    // and what was written after the repair survives another restart
    const third = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const c3 = new KvClient(third.clientUrl);
    try {
      await assertAllPresent(c3, acked);
    } finally {
      c3.close();
      await third.stop();
    }
  } finally {
    cleanup();
  }
});

test('a WAL corrupted before its tail stops the member with a clear error and changes nothing', async () => {
  const { dir, cleanup } = tempDir();
  const dataDir = path.join(dir, 'm');
  const ports = await freePorts();
  try {
    const member = await startMember({ bin: TSETCD_BIN, dataDir, ports });
    const client = new KvClient(member.clientUrl);
    for (let i = 0; i < 200; i++) await client.put(`k${i}`, `value-${i}-`.repeat(10));
    client.close();
    await member.stop();

    const wal = walFiles(dataDir)[0]!;
    const bytes = fs.readFileSync(wal);
    // flip one byte in the middle of the log: records after it are intact
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(wal, bytes);
    const digest = () => createHash('sha256').update(fs.readFileSync(wal)).digest('hex');
    const before = digest();

    const broken = await startMember({ bin: TSETCD_BIN, dataDir, ports, waitHealthy: false });
    const code = await broken.exited;
    assert.notEqual(code, 0, 'the member must refuse to start');
    const log = fs.readFileSync(broken.logPath, 'utf8');
    assert.match(log, /wal/i);
    assert.match(log, new RegExp(path.basename(wal).replace('.', '\\.')), 'the error names the damaged file');
    assert.equal(digest(), before, 'the WAL must not be modified');
  } finally {
    cleanup();
  }
});
