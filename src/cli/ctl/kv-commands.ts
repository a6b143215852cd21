// put, get, del and compaction: argument checks, requests and exit codes as etcdctl's.
// The order of the steps is etcdctl's too (arguments are checked before the
// environment is read; --command-timeout is taken before ETCDCTL_* applies for put,
// get and del), because it decides which error a user sees first.
import { KVService, RangeRequest_SortOrder, RangeRequest_SortTarget, type PutRequest, type RangeRequest } from '../../proto/etcdserverpb.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import type { FlagSet } from './flags.js';
import { argBytes } from './argv.js';
import { RpcError } from './client.js';
import { commandDeadline, connect } from './global.js';
import { goQuote, parseGoInt64 } from './gofmt.js';
import { CtlExit, ExitCode } from './io.js';

const NUL = Buffer.from([0]);

/** The smallest key greater than every key that starts with `prefix` ("\0" if none). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return NUL;
}

function failed(err: unknown): never {
  if (err instanceof RpcError) throw new CtlExit(ExitCode.Error, err.message);
  throw err;
}

/** [key, range_end] for a key argument with --prefix / --from-key, as clientv3 builds them. */
export function keyRange(key: Buffer, rangeEnd: Buffer, prefix: boolean, fromKey: boolean): [Buffer, Buffer] {
  if (prefix) return key.length === 0 ? [NUL, NUL] : [key, prefixEnd(key)];
  if (fromKey) return [key.length === 0 ? NUL : key, NUL];
  return [key, rangeEnd];
}

export const PUT_USAGE = 'put command needs 1 argument and input from stdin or 2 arguments';

/** etcdctl's put argument checks; returns whether --ignore-value is set. */
export function checkPutArgs(args: string[], flags: FlagSet): boolean {
  if (args.length === 0) throw new CtlExit(ExitCode.BadArgs, PUT_USAGE);
  const ignoreValue = flags.get('ignore-value').bool;
  if (ignoreValue && args.length > 1) throw new CtlExit(ExitCode.BadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  return ignoreValue;
}

/** The PutRequest of a put command line (also a txn line's put), its value already found. */
export function putRequestOf(args: string[], flags: FlagSet, value: Buffer): Partial<PutRequest> {
  let lease: bigint;
  try {
    lease = parseGoInt64(flags.get('lease').string, 16);
  } catch (err) {
    throw new CtlExit(ExitCode.BadArgs, `bad lease ID (${(err as Error).message}), expecting ID in Hex`);
  }
  return {
    key: argBytes(args[0]!),
    value,
    lease,
    prev_kv: flags.get('prev-kv').bool,
    ignore_value: flags.get('ignore-value').bool,
    ignore_lease: flags.get('ignore-lease').bool,
  };
}

async function putCommand(ctx: RunContext): Promise<void> {
  const { args, flags } = ctx;
  const ignoreValue = checkPutArgs(args, flags);
  let value: Buffer = Buffer.alloc(0);
  if (!ignoreValue) {
    value = args.length > 1 ? argBytes(args[1]!) : await ctx.io.readStdin();
    if (args.length < 2 && value.length === 0) throw new CtlExit(ExitCode.BadArgs, PUT_USAGE);
  }
  const request = putRequestOf(args, flags, value);
  const deadline = commandDeadline(flags);
  const { client, printer } = connect(ctx);
  const ans = await client.call(KVService.methods.Put, request, deadline, { repeatable: false }).catch(failed);
  printer.put(ans);
}

const SORT_ORDERS: Record<string, RangeRequest_SortOrder> = {
  '': RangeRequest_SortOrder.NONE,
  ASCEND: RangeRequest_SortOrder.ASCEND,
  DESCEND: RangeRequest_SortOrder.DESCEND,
};
const SORT_TARGETS: Record<string, RangeRequest_SortTarget> = {
  '': RangeRequest_SortTarget.KEY,
  CREATE: RangeRequest_SortTarget.CREATE,
  KEY: RangeRequest_SortTarget.KEY,
  MODIFY: RangeRequest_SortTarget.MOD,
  VALUE: RangeRequest_SortTarget.VALUE,
  VERSION: RangeRequest_SortTarget.VERSION,
};

export function rangeRequest(ctx: RunContext): RangeRequest {
  const { args, flags } = ctx;
  if (args.length === 0) throw new CtlExit(ExitCode.BadArgs, 'get command needs one argument as key and an optional argument as range_end');
  const prefix = flags.get('prefix').bool;
  const fromKey = flags.get('from-key').bool;
  if (prefix && fromKey) throw new CtlExit(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  const consistency = flags.get('consistency').string;
  if (consistency !== 'l' && consistency !== 's') throw new CtlExit(ExitCode.BadFeature, `unknown consistency flag ${goQuote(consistency)}`);
  if (args.length > 1 && (prefix || fromKey)) {
    throw new CtlExit(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
  }
  const orderText = flags.get('order').string;
  let order = SORT_ORDERS[orderText.toUpperCase()];
  if (order === undefined) throw new CtlExit(ExitCode.BadFeature, `bad sort order ${orderText}`);
  const targetText = flags.get('sort-by').string;
  const target = SORT_TARGETS[targetText.toUpperCase()];
  if (target === undefined) throw new CtlExit(ExitCode.BadFeature, `bad sort target ${targetText}`);
  // the server returns keys in ascending order anyway, so clientv3 drops that sort
  if (target === RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.ASCEND) order = RangeRequest_SortOrder.NONE;
  const rev = flags.get('rev').int64;
  const [key, rangeEnd] = keyRange(argBytes(args[0]!), args.length > 1 ? argBytes(args[1]!) : Buffer.alloc(0), prefix, fromKey);
  return {
    key,
    range_end: rangeEnd,
    limit: Number(flags.get('limit').int64),
    revision: rev > 0n ? Number(rev) : 0,
    sort_order: order,
    sort_target: target,
    serializable: consistency === 's',
    keys_only: flags.get('keys-only').bool,
    count_only: false,
    min_mod_revision: 0,
    max_mod_revision: 0,
    min_create_revision: 0,
    max_create_revision: 0,
  };
}

async function getCommand(ctx: RunContext): Promise<void> {
  const request = rangeRequest(ctx);
  const deadline = commandDeadline(ctx.flags);
  const { client, printer } = connect(ctx);
  const ans = await client.call(KVService.methods.Range, request, deadline, { repeatable: true }).catch(failed);
  if (ctx.flags.get('print-value-only').bool) {
    if (printer.format !== 'simple') throw new CtlExit(ExitCode.BadArgs, 'print-value-only is only for `--write-out=simple`');
    printer.printValuesOnly();
  }
  printer.get(ans);
}

async function delCommand(ctx: RunContext): Promise<void> {
  const { args, flags } = ctx;
  if (args.length === 0 || args.length > 2) {
    throw new CtlExit(ExitCode.BadArgs, 'del command needs one argument as key and an optional argument as range_end');
  }
  const prefix = flags.get('prefix').bool;
  const fromKey = flags.get('from-key').bool;
  if (prefix && fromKey) throw new CtlExit(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  if (args.length > 1 && (prefix || fromKey)) {
    throw new CtlExit(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
  }
  const [key, rangeEnd] = keyRange(argBytes(args[0]!), args.length > 1 ? argBytes(args[1]!) : Buffer.alloc(0), prefix, fromKey);
  const deadline = commandDeadline(flags);
  const { client, printer } = connect(ctx);
  const request = { key, range_end: rangeEnd, prev_kv: flags.get('prev-kv').bool };
  const ans = await client.call(KVService.methods.DeleteRange, request, deadline, { repeatable: false }).catch(failed);
  printer.del(ans);
}

async function compactionCommand(ctx: RunContext): Promise<void> {
  const { args, flags } = ctx;
  if (args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'compaction command needs 1 argument');
  let rev: bigint;
  try {
    rev = parseGoInt64(args[0]!, 10);
  } catch (err) {
    throw new CtlExit(ExitCode.Error, (err as Error).message);
  }
  const { client } = connect(ctx);
  const deadline = commandDeadline(flags);
  const request = { revision: Number(rev), physical: flags.get('physical').bool };
  await client.call(KVService.methods.Compact, request, deadline, { repeatable: false }).catch(failed);
  ctx.io.out(`compacted revision ${rev}\n`);
}

export const KV_COMMANDS: CommandSpec[] = [
  {
    use: 'put [options] <key> <value> (<value> can also be given from stdin)',
    short: 'Writes a key-value pair',
    long: `
Writes <value> under <key>, replacing what was there.

A <value> that starts with '-' would be read as a flag; put '--' before it:

$ put <key> -- <value>
$ put -- <key> <value>

Without a <value> argument (and without --ignore-value), the value is everything
read from standard input, so

$ cat file | put <key>

stores the file's content under <key>.
`,
    flags: [
      { name: 'lease', kind: 'string', def: '0', usage: 'attach the key to this lease (ID in hexadecimal)' },
      { name: 'prev-kv', kind: 'bool', def: 'false', usage: 'also print the key-value pair as it was before' },
      { name: 'ignore-value', kind: 'bool', def: 'false', usage: 'keep the current value (change only the lease)' },
      { name: 'ignore-lease', kind: 'bool', def: 'false', usage: 'keep the current lease (change only the value)' },
    ],
    run: putCommand,
  },
  {
    use: 'get [options] <key> [range_end]',
    short: 'Reads a key or a range of keys',
    flags: [
      { name: 'consistency', kind: 'string', def: 'l', usage: 'l for a linearizable read, s for a serializable one' },
      { name: 'order', kind: 'string', def: '', usage: 'ASCEND or DESCEND (ascending when unset)' },
      { name: 'sort-by', kind: 'string', def: '', usage: 'sort by CREATE, KEY, MODIFY, VALUE or VERSION' },
      { name: 'limit', kind: 'int64', def: '0', usage: 'return at most this many keys' },
      { name: 'prefix', kind: 'bool', def: 'false', usage: 'read every key that starts with <key>' },
      { name: 'from-key', kind: 'bool', def: 'false', usage: 'read every key from <key> on (byte order)' },
      { name: 'rev', kind: 'int64', def: '0', usage: 'read as of this revision' },
      { name: 'keys-only', kind: 'bool', def: 'false', usage: 'return keys without values' },
      { name: 'print-value-only', kind: 'bool', def: 'false', usage: 'print values only (simple output format)' },
    ],
    run: getCommand,
  },
  {
    use: 'del [options] <key> [range_end]',
    short: 'Deletes a key or the keys in [key, range_end)',
    flags: [
      { name: 'prefix', kind: 'bool', def: 'false', usage: 'delete every key that starts with <key>' },
      { name: 'prev-kv', kind: 'bool', def: 'false', usage: 'print the deleted key-value pairs' },
      { name: 'from-key', kind: 'bool', def: 'false', usage: 'delete every key from <key> on (byte order)' },
    ],
    run: delCommand,
  },
  {
    use: 'compaction [options] <revision>',
    short: 'Discards the key history before a revision',
    flags: [{ name: 'physical', kind: 'bool', def: 'false', usage: 'return only once the old revisions are removed from disk' }],
    run: compactionCommand,
  },
];
