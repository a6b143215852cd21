// Bad requests get etcd's status code and message, change nothing, and the member
// keeps serving. Each request goes to real etcd 3.4 and to tsetcd; answers must match.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { UnaryClient } from '../../src/client/unary-client.js';
import { GrpcError } from '../../src/api/grpc/status.js';
import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../../src/proto/etcdserverpb.js';
import { tempDir } from '../helpers/tmp.js';
import { freePorts, haveBinary, startMember, TSETCD_BIN } from './harness.js';

interface Probe {
  name: string;
  path: string;
  body: Uint8Array;
}

const put = (key: string, value: string | Buffer) => RequestOp.create({ request_put: PutRequest.create({ key: Buffer.from(key), value: Buffer.from(value) }) });

const PROBES: Probe[] = [
  { name: 'truncated varint', path: '/etcdserverpb.KV/Put', body: Buffer.from([0x0a, 0x80]) },
  { name: 'length past the end', path: '/etcdserverpb.KV/Put', body: Buffer.from([0x0a, 0x10, 0x61]) },
  { name: 'wrong wire type for key', path: '/etcdserverpb.KV/Put', body: Buffer.from([0x08, 0x01]) },
  { name: 'wire type 7', path: '/etcdserverpb.KV/Range', body: Buffer.from([0x0f, 0x01]) },
  { name: 'empty put', path: '/etcdserverpb.KV/Put', body: new Uint8Array(0) },
  { name: 'empty range', path: '/etcdserverpb.KV/Range', body: new Uint8Array(0) },
  { name: 'empty delete', path: '/etcdserverpb.KV/DeleteRange', body: new Uint8Array(0) },
  { name: 'oversized put', path: '/etcdserverpb.KV/Put', body: PutRequest.encode(PutRequest.create({ key: Buffer.from('big'), value: Buffer.alloc(1_600_000, 97) })) },
  { name: 'over the grpc limit', path: '/etcdserverpb.KV/Put', body: PutRequest.encode(PutRequest.create({ key: Buffer.from('huge'), value: Buffer.alloc(2_200_000, 97) })) },
  { name: 'ignore_value with a value', path: '/etcdserverpb.KV/Put', body: PutRequest.encode(PutRequest.create({ key: Buffer.from('k'), value: Buffer.from('v'), ignore_value: true })) },
  { name: 'ignore_lease with a lease', path: '/etcdserverpb.KV/Put', body: PutRequest.encode(PutRequest.create({ key: Buffer.from('k'), lease: 5n, ignore_lease: true })) },
  {
    name: 'too many txn ops',
    path: '/etcdserverpb.KV/Txn',
    body: TxnRequest.encode(TxnRequest.create({ success: Array.from({ length: 129 }, (_, i) => put(`t${i}`, 'v')) })),
  },
  { name: 'duplicate key in txn', path: '/etcdserverpb.KV/Txn', body: TxnRequest.encode(TxnRequest.create({ success: [put('d', '1'), put('d', '2')] })) },
  { name: 'empty txn op', path: '/etcdserverpb.KV/Txn', body: TxnRequest.encode(TxnRequest.create({ success: [RequestOp.create()] })) },
  {
    name: 'compare without key',
    path: '/etcdserverpb.KV/Txn',
    body: TxnRequest.encode(
      TxnRequest.create({ compare: [Compare.create({ target: Compare_CompareTarget.VALUE, result: Compare_CompareResult.EQUAL })], success: [put('x', '1')] }),
    ),
  },
  { name: 'unknown service', path: '/etcdserverpb.Nope/Put', body: new Uint8Array(0) },
  { name: 'unknown method', path: '/etcdserverpb.KV/Nope', body: new Uint8Array(0) },
];

interface Answer {
  code: number;
  message: string;
}

async function ask(client: UnaryClient, probe: Probe): Promise<Answer> {
  try {
    await client.call(probe.path, probe.body, { timeoutMs: 5000 });
    return { code: 0, message: '' };
  } catch (err) {
    if (err instanceof GrpcError) return { code: err.code, message: err.message };
    throw err;
  }
}

async function probeAll(bin: string, dataDir: string, ports: { client: number; peer: number }): Promise<{ answers: Answer[]; keysAfter: number }> {
  const member = await startMember({ bin, dataDir, ports });
  const client = new UnaryClient(member.clientUrl);
  try {
    const answers: Answer[] = [];
    for (const p of PROBES) answers.push(await ask(client, p));
    // nothing was written, and the member still serves
    const all = RangeRequest.create({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
    const { RangeResponse } = await import('../../src/proto/etcdserverpb.js');
    const resp = RangeResponse.decode(await client.call('/etcdserverpb.KV/Range', RangeRequest.encode(all)));
    return { answers, keysAfter: resp.count };
  } finally {
    client.close();
    await member.stop();
  }
}

test('malformed and invalid requests get etcd’s answers and change nothing', { skip: !haveBinary('etcd') && 'etcd is not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ports = await freePorts();
    const want = await probeAll('etcd', path.join(dir, 'etcd'), ports);
    const got = await probeAll(TSETCD_BIN, path.join(dir, 'tsetcd'), ports);
    const mismatches = PROBES.flatMap((p, i) =>
      JSON.stringify(got.answers[i]) === JSON.stringify(want.answers[i])
        ? []
        : [`${p.name}: etcd ${JSON.stringify(want.answers[i])}, tsetcd ${JSON.stringify(got.answers[i])}`],
    );
    assert.deepEqual(mismatches, []);
    assert.equal(want.keysAfter, 0);
    assert.equal(got.keysAfter, 0);
  } finally {
    cleanup();
  }
});

test('unknown sort options are refused (etcd 3.4 crashes on them; 3.5 answers this)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports: await freePorts() });
    const client = new UnaryClient(member.clientUrl);
    try {
      for (const bad of [{ sort_order: 7 }, { sort_target: 9 }]) {
        const req = RangeRequest.create({ key: Buffer.from('k'), ...(bad as Partial<RangeRequest>) });
        const a = await ask(client, { name: 'sort', path: '/etcdserverpb.KV/Range', body: RangeRequest.encode(req) });
        assert.deepEqual(a, { code: 3, message: 'etcdserver: invalid sort option' });
      }
      const ok = await ask(client, { name: 'after', path: '/etcdserverpb.KV/Range', body: RangeRequest.encode(RangeRequest.create({ key: Buffer.from('k') })) });
      assert.equal(ok.code, 0);
    } finally {
      client.close();
      await member.stop();
    }
  } finally {
    cleanup();
  }
});
