// Small pieces the lease, auth, txn, watch, lock and elect commands share: arguments as
// the bytes the user typed, Go's %016x and %v renderings etcdctl prints, json.Marshal of
// clientv3's wrapper structs (a response header embedded in them), RPC failures turned
// into etcdctl's exit codes, and a "no timeout" deadline for calls etcdctl makes
// without one.
import type { ResponseHeader } from '../../proto/etcdserverpb.js';
import { RpcError } from './client.js';
import { goJson, goJsonStruct } from './gofmt.js';
import { CtlExit, ExitCode } from './io.js';

/** An argument as bytes: one copy, in argv.ts (lone surrogates stand for raw bytes). */
export { argBytes } from './argv.js';

/**
 * A deadline for calls etcdctl makes with context.TODO(): none in practice. gRPC's
 * timeout header holds at most 8 digits, so a day is as far as it can say.
 */
export function noDeadline(): number {
  return Date.now() + 86_400_000;
}

/** Go's %016x of an int64 (a lease ID): zero-padded, the sign inside the width. */
export function hex016(id: bigint): string {
  if (id < 0n) return '-' + (-id).toString(16).padStart(15, '0');
  return id.toString(16).padStart(16, '0');
}

/** An RPC failure ends the command with "Error: <message>" and `code`; other errors pass. */
export function exitOnRpcError(code: number, wrap: (message: string) => string = (m) => m): (err: unknown) => never {
  return (err: unknown): never => {
    if (err instanceof RpcError) throw new CtlExit(code, wrap(err.message));
    throw err;
  };
}

export const failWithError = exitOnRpcError(ExitCode.Error);

/**
 * json.Marshal of a clientv3 struct that embeds *pb.ResponseHeader: the header's fields
 * (omitempty, as protobuf tags them) inline, then the struct's own fields, all written.
 */
export function jsonWithEmbeddedHeader(header: ResponseHeader | undefined, fields: Array<[string, unknown]>): string {
  const head = header ? goJson(header).slice(1, -1) : '';
  const own = goJsonStruct(fields).slice(1, -1);
  return '{' + [head, own].filter((s) => s !== '').join(',') + '}';
}

/** The protobuf compact text of a response header, as %v shows a *pb.ResponseHeader. */
export function headerText(h: ResponseHeader | undefined): string {
  if (!h) return '<nil>';
  const parts: string[] = [];
  if (h.cluster_id !== 0n) parts.push(`cluster_id:${h.cluster_id}`);
  if (h.member_id !== 0n) parts.push(`member_id:${h.member_id}`);
  if (h.revision !== 0) parts.push(`revision:${h.revision}`);
  if (h.raft_term !== 0) parts.push(`raft_term:${h.raft_term}`);
  return parts.map((p) => p + ' ').join('');
}

/** A Go runtime panic as the user sees it: the message on stderr and exit status 2. */
export class GoPanic extends CtlExit {
  constructor(readonly panicText: string) {
    super(2);
  }
}

export function goPanic(io: { err(s: string): void }, text: string): never {
  io.err(`panic: ${text}\n\ngoroutine 1 [running]:\nmain.main()\n`);
  throw new GoPanic(text);
}
