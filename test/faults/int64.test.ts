// 64-bit integers are exact or refused, never silently changed: revisions, limits and TTLs
// (held as doubles) beyond ±(2^53−1) get InvalidArgument over gRPC and over the JSON
// gateway, values within range (negative ones too) are served, and lease IDs (held as
// bigint) of 2^63−1 are granted, attached, read back and revoked exactly.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { UnaryClient } from '../../src/client/unary-client.js';
import { GrpcCode, GrpcError } from '../../src/api/grpc/status.js';
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeRequest,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  PutRequest,
  RangeRequest,
  RangeResponse,
} from '../../src/proto/etcdserverpb.js';
import { ProtoJsonError, ProtoRangeError } from '../../src/proto/runtime.js';
import { tempDir } from '../helpers/tmp.js';
import { freePorts, startMember, TSETCD_BIN } from './../e2e/harness.js';

const MAX_INT64 = 2n ** 63n - 1n;
const BEYOND_DOUBLE = 2n ** 53n + 1n;

/** A varint of a 64-bit two's-complement value, as grpc-go would write it. */
function varint(v: bigint): number[] {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}

/** A RangeRequest for key "k" with one varint field (4 = revision, 3 = limit) set to v. */
function rangeWith(fieldNumber: number, v: bigint): Buffer {
  return Buffer.from([0x0a, 1, 0x6b, fieldNumber << 3, ...varint(v)]);
}

/** A LeaseGrantRequest whose TTL (field 1) is v. */
function grantWithTtl(v: bigint): Buffer {
  return Buffer.from([0x08, ...varint(v)]);
}

async function codeOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
    return { code: 0, message: '' };
  } catch (err) {
    if (err instanceof GrpcError) return { code: err.code, message: err.message };
    throw err;
  }
}

test('decoding: a number field beyond ±(2^53−1) is a ProtoRangeError, within it exact', () => {
  for (const v of [BEYOND_DOUBLE, MAX_INT64, -BEYOND_DOUBLE, -(2n ** 63n)]) {
    assert.throws(() => RangeRequest.decode(rangeWith(4, v)), (err: Error) => err instanceof ProtoRangeError && err.message.includes(String(v)));
  }
  for (const v of [2n ** 53n - 1n, -1n, -(2n ** 53n - 1n), 0n]) {
    assert.equal(RangeRequest.decode(rangeWith(4, v)).revision, Number(v));
  }
  assert.equal(LeaseGrantRequest.decode(Buffer.from([0x10, ...varint(MAX_INT64)])).ID, MAX_INT64);
});

test('JSON: an int64 number field beyond 2^53, as a string or a JSON number, is refused', () => {
  for (const text of ['{"key":"aw==","revision":"9007199254740993"}', '{"key":"aw==","revision":9007199254740993}', '{"key":"aw==","limit":"-9223372036854775808"}']) {
    assert.throws(() => RangeRequest.fromJSON(JSON.parse(text)), ProtoJsonError, text);
  }
  assert.equal(RangeRequest.fromJSON(JSON.parse('{"key":"aw==","revision":"9007199254740991"}')).revision, 2 ** 53 - 1);
  assert.equal(LeaseGrantRequest.fromJSON({ ID: MAX_INT64.toString() }).ID, MAX_INT64);
});

test('a member refuses inexact revisions, limits and TTLs and keeps lease IDs of 2^63−1 exact', async () => {
  const { dir, cleanup } = tempDir();
  const member = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'm'), ports: await freePorts() });
  const client = new UnaryClient(member.clientUrl);
  const gateway = async (route: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${member.clientUrl}/v3${route}`, { method: 'POST', body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  try {
    await client.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from('k'), value: Buffer.from('v') })));

    // over gRPC: beyond a double's exact range is InvalidArgument, naming the value
    for (const [field, v] of [[4, BEYOND_DOUBLE], [4, MAX_INT64], [3, MAX_INT64], [4, -(2n ** 63n)]] as const) {
      const got = await codeOf(client.call('/etcdserverpb.KV/Range', rangeWith(field, v)));
      assert.equal(got.code, GrpcCode.InvalidArgument, `field ${field} = ${v}: ${got.message}`);
      assert.match(got.message, new RegExp(String(v)));
    }
    const ttl = await codeOf(client.call('/etcdserverpb.Lease/LeaseGrant', grantWithTtl(MAX_INT64)));
    assert.equal(ttl.code, GrpcCode.InvalidArgument, ttl.message);

    // in range, negatives included, the request is served as etcd serves it
    const negative = RangeResponse.decode(await client.call('/etcdserverpb.KV/Range', rangeWith(4, -1n)));
    assert.equal(negative.kvs.length, 1);
    const negLimit = RangeResponse.decode(await client.call('/etcdserverpb.KV/Range', rangeWith(3, -5n)));
    assert.equal(negLimit.kvs.length, 1);

    // the JSON gateway refuses the same values with code 3 (InvalidArgument)
    for (const body of ['{"key":"aw==","revision":"9223372036854775807"}', '{"key":"aw==","revision":9007199254740993}']) {
      const r = await gateway('/kv/range', body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.code, GrpcCode.InvalidArgument, body);
    }
    const ok = await gateway('/kv/range', '{"key":"aw==","revision":"-1"}');
    assert.equal(ok.status, 200);
    assert.equal((ok.json.kvs as unknown[]).length, 1);

    // a lease ID of 2^63−1 over gRPC: granted, attached, read back and revoked exactly
    const granted = LeaseGrantResponse.decode(await client.call('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: 600, ID: MAX_INT64 }))));
    assert.equal(granted.ID, MAX_INT64);
    await client.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.from('leased'), value: Buffer.from('x'), lease: MAX_INT64 })));
    const leased = RangeResponse.decode(await client.call('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key: Buffer.from('leased') }))));
    assert.equal(leased.kvs[0]?.lease, MAX_INT64);
    const ttlInfo = LeaseTimeToLiveResponse.decode(await client.call('/etcdserverpb.Lease/LeaseTimeToLive', LeaseTimeToLiveRequest.encode(LeaseTimeToLiveRequest.create({ ID: MAX_INT64, keys: true }))));
    assert.equal(ttlInfo.ID, MAX_INT64);
    assert.deepEqual(ttlInfo.keys.map((k) => Buffer.from(k).toString()), ['leased']);
    await client.call('/etcdserverpb.Lease/LeaseRevoke', LeaseRevokeRequest.encode(LeaseRevokeRequest.create({ ID: MAX_INT64 })));
    const gone = RangeResponse.decode(await client.call('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key: Buffer.from('leased') }))));
    assert.equal(gone.kvs.length, 0);

    // and over the gateway, where int64s travel as decimal strings
    const id = (MAX_INT64 - 1n).toString();
    const g = await gateway('/lease/grant', `{"TTL":600,"ID":"${id}"}`);
    assert.equal(g.status, 200, JSON.stringify(g.json));
    assert.equal(g.json.ID, id);
    const t = await gateway('/lease/timetolive', `{"ID":"${id}"}`);
    assert.equal(t.json.ID, id);
    const rv = await gateway('/lease/revoke', `{"ID":"${id}"}`);
    assert.equal(rv.status, 200, JSON.stringify(rv.json));
    const after = await gateway('/lease/timetolive', `{"ID":"${id}"}`);
    assert.equal(after.json.TTL, '-1');
  } finally {
    client.close();
    await member.stop();
    cleanup();
  }
});
