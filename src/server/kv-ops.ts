// KV requests (etcd's v3_server Range/Put/DeleteRange/Txn/Compact): reads are served
// from this member's store (after a ReadIndex round unless serializable); writes are
// proposed through the log and answered from apply's response.
import type { AuthInfo } from '../auth/index.js';
import { AuthErrors } from '../auth/errors.js';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb.js';
import { storeView, type ApplyContext } from './apply.js';
import { applyRange, applyTxn, isTxnReadOnly, isTxnSerializable } from './kv-apply.js';
import type { Maintenance } from './maintenance.js';
import type { ServerParts } from './parts.js';
import { RaftRequestField } from './raft-request.js';
import type { RequestOf, ResponseOf } from './proposal-types.js';

type WriteField = typeof RaftRequestField.put | typeof RaftRequestField.deleteRange | typeof RaftRequestField.txn;

export class KvOps {
  constructor(
    private readonly m: ServerParts,
    private readonly leases: ApplyContext['leases'],
    private readonly maintenance: Maintenance,
  ) {}

  async range(r: RangeRequest, caller?: AuthInfo): Promise<RangeResponse> {
    this.m.auth.checkRange(caller, r.key, r.range_end);
    if (!r.serializable) await this.m.linearizableReadBarrier();
    const resp = applyRange(storeView(this.m.store), r);
    this.checkAuthRevision(caller);
    resp.header = this.m.header(resp.header!.revision);
    return resp;
  }

  put(r: PutRequest, raw: Uint8Array, caller?: AuthInfo): Promise<PutResponse> {
    this.maintenance.checkQuota(raw.length);
    return this.write(RaftRequestField.put, r, raw, caller);
  }

  deleteRange(r: DeleteRangeRequest, raw: Uint8Array, caller?: AuthInfo): Promise<DeleteRangeResponse> {
    return this.write(RaftRequestField.deleteRange, r, raw, caller);
  }

  async txn(r: TxnRequest, raw: Uint8Array, caller?: AuthInfo): Promise<TxnResponse> {
    if (isTxnReadOnly(r)) {
      this.m.auth.checkTxn(caller, r);
      if (!isTxnSerializable(r)) await this.m.linearizableReadBarrier();
      const resp = applyTxn(r, { view: storeView(this.m.store), leases: this.leases });
      this.checkAuthRevision(caller);
      resp.header = this.m.header(resp.header!.revision);
      return resp;
    }
    this.maintenance.checkQuota(raw.length);
    return this.write(RaftRequestField.txn, r, raw, caller);
  }

  /** A write through the log, answered with apply's response under this member's header. */
  private async write<K extends WriteField>(field: K, r: RequestOf<K>, raw: Uint8Array, caller: AuthInfo | undefined): Promise<ResponseOf<K>> {
    const resp = await this.m.proposals.proposeAndWait(field, r, raw, caller);
    resp.header = this.m.header(resp.header!.revision);
    return resp;
  }

  async compact(r: CompactionRequest, raw: Uint8Array, caller?: AuthInfo): Promise<CompactionResponse> {
    const outcome = await this.m.proposals.propose(RaftRequestField.compaction, r, raw, caller);
    if (outcome.error) throw outcome.error;
    if (outcome.done) await outcome.done;
    return { header: this.m.header(this.m.store.rev) };
  }

  /** A read served under an auth revision that changed meanwhile must be retried (etcd's rule). */
  private checkAuthRevision(caller: AuthInfo | undefined): void {
    if (caller && caller.revision !== 0 && caller.revision !== this.m.auth.revision) throw AuthErrors.authOldRevision();
  }
}
