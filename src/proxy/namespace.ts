// --namespace: every key a client names is sent to the cluster with the prefix in front,
// and every key the cluster answers with comes back without it, as etcd's clientv3
// namespace package does for the proxy's KV, Watch and Lease. Ranges keep their meaning
// inside the namespace: "to the end of the keyspace" (range_end "\0") becomes "to the end
// of the prefix". An empty namespace leaves every message as it is.
import type * as pb from '../proto/etcdserverpb.js';
import type { Event, KeyValue } from '../proto/mvccpb.js';
import { GrpcCode, GrpcError } from '../api/grpc/status.js';

const EMPTY_KEY = new GrpcError(GrpcCode.InvalidArgument, 'etcdserver: key is not provided');

export class Namespace {
  private readonly prefix: Buffer;

  constructor(prefix: string) {
    this.prefix = Buffer.from(prefix);
  }

  get active(): boolean {
    return this.prefix.length > 0;
  }

  key(k: Uint8Array): Buffer {
    return Buffer.concat([this.prefix, k]);
  }

  /** [key, end) moved under the prefix (etcd's prefixInterval). */
  interval(key: Uint8Array, end: Uint8Array): { key: Buffer; end: Buffer } {
    const pk = this.key(key);
    if (end.length === 1 && end[0] === 0) return { key: pk, end: this.prefixEnd() };
    return { key: pk, end: end.length > 0 ? this.key(end) : Buffer.alloc(0) };
  }

  /** the first key after every key that starts with the prefix ("\0" for an all-0xff prefix) */
  private prefixEnd(): Buffer {
    const e = Buffer.from(this.prefix);
    for (let i = e.length - 1; i >= 0; i--) {
      e[i] = (e[i]! + 1) & 0xff;
      if (e[i] !== 0) return e.subarray(0, i + 1);
    }
    return Buffer.from([0]);
  }

  strip(k: Uint8Array): Uint8Array {
    return k.subarray(Math.min(this.prefix.length, k.length));
  }

  /** whether a key the cluster sent lies inside the namespace */
  owns(k: Uint8Array): boolean {
    return k.length >= this.prefix.length && Buffer.from(k.buffer, k.byteOffset, this.prefix.length).equals(this.prefix);
  }

  kv(kv: KeyValue | undefined): KeyValue | undefined {
    return kv ? { ...kv, key: this.strip(kv.key) } : kv;
  }

  range(r: pb.RangeRequest): pb.RangeRequest {
    if (!this.active) return r;
    if (r.key.length === 0) throw EMPTY_KEY;
    return { ...r, ...this.rangeOf(r.key, r.range_end) };
  }

  private rangeOf(key: Uint8Array, end: Uint8Array): { key: Buffer; range_end: Buffer } {
    const i = this.interval(key, end);
    return { key: i.key, range_end: i.end };
  }

  rangeResponse(r: pb.RangeResponse): pb.RangeResponse {
    return this.active ? { ...r, kvs: r.kvs.map((kv) => this.kv(kv)!) } : r;
  }

  put(r: pb.PutRequest): pb.PutRequest {
    if (!this.active) return r;
    if (r.key.length === 0) throw EMPTY_KEY;
    return { ...r, key: this.key(r.key) };
  }

  putResponse(r: pb.PutResponse): pb.PutResponse {
    return this.active ? { ...r, prev_kv: this.kv(r.prev_kv) } : r;
  }

  deleteRange(r: pb.DeleteRangeRequest): pb.DeleteRangeRequest {
    if (!this.active) return r;
    if (r.key.length === 0) throw EMPTY_KEY;
    return { ...r, ...this.rangeOf(r.key, r.range_end) };
  }

  deleteResponse(r: pb.DeleteRangeResponse): pb.DeleteRangeResponse {
    return this.active ? { ...r, prev_kvs: r.prev_kvs.map((kv) => this.kv(kv)!) } : r;
  }

  private compare(c: pb.Compare): pb.Compare {
    return { ...c, ...this.rangeOf(c.key, c.range_end) };
  }

  private op(o: pb.RequestOp): pb.RequestOp {
    if (o.request_range) return { request_range: this.range(o.request_range) };
    if (o.request_put) return { request_put: this.put(o.request_put) };
    if (o.request_delete_range) return { request_delete_range: this.deleteRange(o.request_delete_range) };
    if (o.request_txn) return { request_txn: this.txn(o.request_txn) };
    return o;
  }

  txn(r: pb.TxnRequest): pb.TxnRequest {
    if (!this.active) return r;
    return { compare: r.compare.map((c) => this.compare(c)), success: r.success.map((o) => this.op(o)), failure: r.failure.map((o) => this.op(o)) };
  }

  private opResponse(o: pb.ResponseOp): pb.ResponseOp {
    if (o.response_range) return { response_range: this.rangeResponse(o.response_range) };
    if (o.response_put) return { response_put: this.putResponse(o.response_put) };
    if (o.response_delete_range) return { response_delete_range: this.deleteResponse(o.response_delete_range) };
    if (o.response_txn) return { response_txn: this.txnResponse(o.response_txn) };
    return o;
  }

  txnResponse(r: pb.TxnResponse): pb.TxnResponse {
    return this.active ? { ...r, responses: r.responses.map((o) => this.opResponse(o)) } : r;
  }

  watchCreate(r: pb.WatchCreateRequest): pb.WatchCreateRequest {
    if (!this.active) return r;
    return { ...r, ...this.rangeOf(r.key, r.range_end) };
  }

  event(e: Event): Event {
    return this.active ? { ...e, kv: this.kv(e.kv), prev_kv: this.kv(e.prev_kv) } : e;
  }

  /** Lease.TimeToLive's attached keys: only those inside the namespace, without the prefix. */
  leaseKeys(keys: Uint8Array[]): Uint8Array[] {
    return this.active ? keys.filter((k) => this.owns(k)).map((k) => this.strip(k)) : keys;
  }
}
