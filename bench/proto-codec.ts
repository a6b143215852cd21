// Micro-benchmark: our generated codec vs protobufjs on two hot messages.
//
//   npx tsc -p tsconfig.json; node dist/bench/proto-codec.js [seconds-per-case]
//
// protobufjs is measured in its reflection mode (Root.loadSync + Type.encode/decode),
// which compiles per-type encode/decode functions at runtime; that is the same code
// its static mode (pbjs -t static-module) would print, and pbjs is not installed here.
// Not run by the tests: timings are printed, never asserted.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { PutRequest, RangeResponse, ResponseHeader } from '../src/proto/etcdserverpb.js';
import { KeyValue } from '../src/proto/mvccpb.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Works from bench/ and from the compiled dist/bench/.
const protoDir = [path.resolve(here, '../proto'), path.resolve(here, '../../proto')].find((d) =>
  fs.existsSync(path.join(d, 'etcdserverpb/rpc.proto')),
);
if (protoDir === undefined) throw new Error('proto/ directory not found');

const root = new protobuf.Root();
root.resolvePath = (_origin: string, target: string) => path.join(protoDir, target);
root.loadSync(['etcdserverpb/rpc.proto'], { keepCase: true });
root.resolveAll();
const PbPut = root.lookupType('etcdserverpb.PutRequest');
const PbRange = root.lookupType('etcdserverpb.RangeResponse');

const seconds = Number(process.argv[2] ?? '1');
let sink = 0;

function bench(name: string, fn: () => number): number {
  for (let i = 0; i < 20000; i++) sink += fn(); // warm-up: let the JIT settle
  let ops = 0;
  const t0 = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) sink += fn();
    ops += 1000;
    elapsed = process.hrtime.bigint() - t0;
  }
  const perSec = (ops * 1e9) / Number(elapsed);
  console.log(`${name.padEnd(44)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} ops/s`);
  return perSec;
}

// ---- fixtures

const put = PutRequest.create({
  key: Buffer.from('/registry/pods/default/nginx-0001'),
  value: Buffer.alloc(256, 0x61),
  lease: 7587868712390452551n,
  prev_kv: true,
});

const kvs = [];
for (let i = 0; i < 10; i++) {
  kvs.push(
    KeyValue.create({
      key: Buffer.from(`/registry/pods/default/nginx-${String(i).padStart(4, '0')}`),
      create_revision: 1000000 + i,
      mod_revision: 2000000 + i,
      version: 3 + i,
      value: Buffer.alloc(100, 0x62),
    }),
  );
}
const range = RangeResponse.create({
  header: ResponseHeader.create({ cluster_id: 14841639068965178418n, member_id: 10276657743932975437n, revision: 2000010, raft_term: 7 }),
  kvs,
  count: 10,
});

const pbPut = PbPut.fromObject({
  key: put.key,
  value: put.value,
  lease: put.lease.toString(),
  prev_kv: true,
});
const pbRange = PbRange.fromObject({
  header: { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: 2000010, raft_term: 7 },
  kvs: kvs.map((kv) => ({ key: kv.key, create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version, value: kv.value })),
  count: 10,
});

const putBytes = PutRequest.encode(put);
const rangeBytes = RangeResponse.encode(range);
if (!Buffer.from(PbPut.encode(pbPut).finish()).equals(putBytes)) throw new Error('PutRequest bytes differ from protobufjs');
if (!Buffer.from(PbRange.encode(pbRange).finish()).equals(rangeBytes)) throw new Error('RangeResponse bytes differ from protobufjs');

console.log(`node ${process.version}; PutRequest ${putBytes.length} B, RangeResponse(10 kvs) ${rangeBytes.length} B; ${seconds}s per case`);
const rows: [string, number, number][] = [];
const pair = (label: string, ours: () => number, theirs: () => number) => {
  const a = bench(`tsetcd      ${label}`, ours);
  const b = bench(`protobufjs  ${label}`, theirs);
  rows.push([label, a, b]);
};

pair('PutRequest encode', () => PutRequest.encode(put).length, () => PbPut.encode(pbPut).finish().length);
pair('PutRequest decode', () => PutRequest.decode(putBytes).key.length, () => (PbPut.decode(putBytes) as unknown as { key: Uint8Array }).key.length);
pair('RangeResponse encode', () => RangeResponse.encode(range).length, () => PbRange.encode(pbRange).finish().length);
pair('RangeResponse decode', () => RangeResponse.decode(rangeBytes).kvs.length, () => (PbRange.decode(rangeBytes) as unknown as { kvs: unknown[] }).kvs.length);
pair('RangeResponse toJSON+stringify', () => JSON.stringify(RangeResponse.toJSON(range)).length, () => JSON.stringify(PbRange.toObject(pbRange, { longs: String, bytes: String })).length);

console.log('\nratio (tsetcd / protobufjs):');
for (const [label, a, b] of rows) console.log(`  ${label.padEnd(32)} ${(a / b).toFixed(2)}x`);
if (sink === 42) console.log('');
