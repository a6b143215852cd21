// make-mirror <destination>: copies the source cluster's keys (or those under --prefix)
// to the destination, then keeps copying every change, as etcdctl does:
//
// - the base copy reads the source at one revision (that of a read of the prefix, or
//   of "foo" without one) in pages of 1000 keys and puts each key on the destination;
// - then a watch from the next revision replays the changes, one destination
//   transaction per source revision (split every --max-txn-ops operations);
// - keys are renamed by replacing the first occurrence of --prefix with --dest-prefix
//   (by default the prefix itself; --no-dest-prefix: nothing);
// - every 30 s the number of keys copied so far is printed on stdout;
// - it runs until interrupted or until an error, which ends it with exit 1 ("Error: ...";
//   a compacted watch revision is etcd's "required revision has been compacted").
//
// --rev N (etcdctl 3.6) skips the base copy and replays changes from revision N on.
import { KVService, MaintenanceService, RangeRequest, WatchRequest, WatchResponse, WatchService, type RequestOp } from '../../proto/etcdserverpb.js';
import { Event_EventType } from '../../proto/mvccpb.js';
import { GrpcError } from '../../api/grpc/status.js';
import { argBytes } from './argv.js';
import { CtlClient, RpcError } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { askPassword, tlsConfig, TlsConfigError, type AuthSettings, type ConnectionSettings } from './connection.js';
import { connect } from './global.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { prefixEnd } from './kv-commands.js';

const PAGE_KEYS = 1000;
const PROGRESS_EVERY_MS = 30_000;
/** make-mirror has no deadline; each call still gets one, far away */
const CALL_WINDOW_MS = 3_600_000;
const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';

const later = (): number => Date.now() + CALL_WINDOW_MS;

/** strings.Replace(key, from, to, 1) on bytes: the first occurrence (at 0 when `from` is empty). */
export function replaceFirst(key: Uint8Array, from: Uint8Array, to: Uint8Array): Buffer {
  const k = Buffer.from(key);
  const at = k.indexOf(Buffer.from(from));
  if (at < 0) return k;
  return Buffer.concat([k.subarray(0, at), Buffer.from(to), k.subarray(at + from.length)]);
}

/** etcdctl's authDestCfg: --dest-user name[:password], --dest-password, or a prompt. */
function destAuth(ctx: RunContext): AuthSettings | undefined {
  const user = ctx.flags.get('dest-user').string;
  const password = ctx.flags.get('dest-password').string;
  if (user === '') return undefined;
  let cfg: AuthSettings;
  if (password !== '') cfg = { username: user, password };
  else {
    const colon = user.indexOf(':');
    cfg = colon < 0 ? { username: user, password: askPassword(ctx.io, 'Destination Password: ') } : { username: user.slice(0, colon), password: user.slice(colon + 1) };
  }
  return cfg.username !== '' && cfg.password !== '' ? cfg : undefined;
}

/** The destination client (etcdctl's mustClient: a bad TLS file is exit 128, no connection exit 2). */
async function destClient(ctx: RunContext, endpoint: string): Promise<CtlClient> {
  let tls;
  try {
    tls = tlsConfig({
      cert: ctx.flags.get('dest-cert').string,
      key: ctx.flags.get('dest-key').string,
      cacert: ctx.flags.get('dest-cacert').string,
      insecureTransport: ctx.flags.get('dest-insecure-transport').bool,
      insecureSkipVerify: false,
    });
  } catch (err) {
    if (err instanceof TlsConfigError) throw new CtlExit(ExitCode.BadArgs, err.message);
    throw err;
  }
  const auth = destAuth(ctx);
  const dialTimeoutMs = Number(ctx.flags.get('dial-timeout').duration / 1_000_000n);
  const settings: ConnectionSettings = { dialTimeoutMs, ...(tls && { tls }), ...(auth && { auth }), log: (line) => ctx.io.err(line) };
  const client = new CtlClient([endpoint], settings);
  try {
    // clientv3.New waits, up to --dial-timeout, for a connection (and authenticates)
    await client.call(MaintenanceService.methods.Status, {}, Date.now() + dialTimeoutMs, { repeatable: true });
  } catch (err) {
    if (err instanceof RpcError) throw new CtlExit(ExitCode.BadConnection, err.message);
    throw err;
  }
  return client;
}

interface Mirror {
  src: CtlClient;
  dest: CtlClient;
  prefix: Buffer;
  destPrefix: Buffer;
  maxTxnOps: number;
  /** keys copied so far */
  total: number;
}

/** The base copy at one revision; returns that revision. */
async function syncBase(m: Mirror): Promise<number> {
  const probe = m.prefix.length > 0 ? m.prefix : Buffer.from('foo');
  const first = await m.src.call(KVService.methods.Range, RangeRequest.create({ key: probe }), later(), { repeatable: true });
  const rev = first.msg.header?.revision ?? 0;
  let key = m.prefix.length > 0 ? m.prefix : Buffer.from([0]);
  const rangeEnd = m.prefix.length > 0 ? prefixEnd(m.prefix) : Buffer.from([0]);
  for (;;) {
    const page = await m.src.call(KVService.methods.Range, RangeRequest.create({ key, range_end: rangeEnd, limit: PAGE_KEYS, revision: rev }), later(), { repeatable: true });
    for (const kv of page.msg.kvs) {
      const request = { key: replaceFirst(kv.key, m.prefix, m.destPrefix), value: kv.value, lease: 0n, prev_kv: false, ignore_value: false, ignore_lease: false };
      await m.dest.call(KVService.methods.Put, request, later(), { repeatable: false });
      m.total++;
    }
    if (!page.msg.more || page.msg.kvs.length === 0) return rev;
    key = Buffer.concat([Buffer.from(page.msg.kvs[page.msg.kvs.length - 1]!.key), Buffer.from([0])]);
  }
}

async function commit(m: Mirror, ops: RequestOp[]): Promise<void> {
  await m.dest.call(KVService.methods.Txn, { compare: [], success: ops, failure: [] }, later(), { repeatable: false });
}

/** Replays one watch response: one transaction per source revision, at most maxTxnOps long. */
async function replay(m: Mirror, wr: WatchResponse): Promise<void> {
  if (wr.compact_revision !== 0) throw new RpcError(COMPACTED);
  let lastRev = 0;
  let ops: RequestOp[] = [];
  for (const ev of wr.events) {
    const kv = ev.kv!;
    if ((lastRev !== 0 && kv.mod_revision > lastRev) || ops.length === m.maxTxnOps) {
      await commit(m, ops);
      ops = [];
    }
    lastRev = kv.mod_revision;
    const key = replaceFirst(kv.key, m.prefix, m.destPrefix);
    if (ev.type === Event_EventType.PUT) {
      ops.push({ request_put: { key, value: kv.value, lease: 0n, prev_kv: false, ignore_value: false, ignore_lease: false } });
    } else {
      ops.push({ request_delete_range: { key, range_end: new Uint8Array(0), prev_kv: false } });
    }
    m.total++;
  }
  if (ops.length > 0) await commit(m, ops);
}

/** Watches the source from `fromRev` and replays every change until the stream ends. */
async function syncUpdates(m: Mirror, fromRev: number): Promise<void> {
  const stream = await m.src.openStream(WatchService.methods.Watch.path);
  const key = m.prefix.length > 0 ? m.prefix : Buffer.from([0]);
  const rangeEnd = m.prefix.length > 0 ? prefixEnd(m.prefix) : Buffer.from([0]);
  let chain = Promise.resolve();
  let failure: unknown;
  stream.onMessage = (raw) => {
    const wr = WatchResponse.decode(raw);
    chain = chain.then(() => (failure === undefined ? replay(m, wr) : undefined)).catch((err: unknown) => {
      failure = err;
      stream.cancel();
    });
  };
  const create = WatchRequest.encode({
    create_request: { key, range_end: rangeEnd, start_revision: fromRev, progress_notify: false, filters: [], prev_kv: false, watch_id: 0, fragment: false },
  });
  stream.send(create);
  await stream.done.catch((err: unknown) => {
    if (failure === undefined) failure = err instanceof GrpcError ? new RpcError(err.message) : err;
  });
  await chain;
  if (failure !== undefined) throw failure;
}

function startProgress(m: Mirror, io: Io): NodeJS.Timeout {
  const timer = setInterval(() => io.out(`${m.total}\n`), PROGRESS_EVERY_MS);
  timer.unref();
  return timer;
}

async function makeMirrorCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'make-mirror takes one destination argument');
  const dest = await destClient(ctx, ctx.args[0]!);
  const { client: src } = connect(ctx);
  const prefix = argBytes(ctx.flags.get('prefix').string);
  let destPrefix = argBytes(ctx.flags.get('dest-prefix').string);
  const noDestPrefix = ctx.flags.get('no-dest-prefix').bool;
  if (noDestPrefix && destPrefix.length > 0) {
    throw new CtlExit(ExitCode.BadArgs, '`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one');
  }
  if (!noDestPrefix && destPrefix.length === 0) destPrefix = prefix;
  const maxTxnOps = Number(ctx.flags.get('max-txn-ops').int64);
  const m: Mirror = { src, dest, prefix, destPrefix, maxTxnOps: maxTxnOps > 0 ? maxTxnOps : Number.MAX_SAFE_INTEGER, total: 0 };
  const timer = startProgress(m, ctx.io);
  try {
    const startRev = Math.max(0, Number(ctx.flags.get('rev').int64) - 1);
    const baseRev = startRev === 0 ? await syncBase(m) : startRev;
    await syncUpdates(m, baseRev + 1);
  } catch (err) {
    if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, err.message);
    throw err;
  } finally {
    clearInterval(timer);
  }
  // the watch ended without an error: etcdctl reports a nil error the same way
  throw new CtlExit(ExitCode.Error, '<nil>');
}

export const MAKE_MIRROR_COMMAND: CommandSpec = {
  use: 'make-mirror [options] <destination>',
  short: 'Copies the keys to another cluster and keeps copying their changes',
  flags: [
    { name: 'prefix', kind: 'string', def: '', usage: 'mirror only the keys under this prefix' },
    { name: 'dest-prefix', kind: 'string', def: '', usage: 'put the mirrored keys under this prefix instead of --prefix on the destination' },
    { name: 'no-dest-prefix', kind: 'bool', def: 'false', usage: 'strip --prefix from the keys on the destination' },
    { name: 'dest-cert', kind: 'string', def: '', usage: 'client TLS certificate for the destination' },
    { name: 'dest-key', kind: 'string', def: '', usage: 'client TLS key for the destination' },
    { name: 'dest-cacert', kind: 'string', def: '', usage: 'CA bundle to verify the destination with' },
    { name: 'dest-insecure-transport', kind: 'bool', def: 'true', usage: 'with no destination TLS files, talk plain HTTP/2 to it' },
    { name: 'dest-user', kind: 'string', def: '', usage: 'username[:password] on the destination (asks for the password if not given)' },
    { name: 'dest-password', kind: 'string', def: '', usage: 'password of --dest-user (then --dest-user holds only the name)' },
    { name: 'rev', kind: 'int64', def: '0', usage: 'skip the base copy and mirror the changes from this revision on' },
    { name: 'max-txn-ops', kind: 'int64', def: '128', usage: 'most operations in one destination transaction while mirroring changes' },
  ],
  run: makeMirrorCommand,
};
