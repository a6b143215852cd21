// snapshot save <file>: streams Maintenance.Snapshot from one endpoint into
// "<file>.part" (created 0600, truncated), checks that the stream ended with the
// SHA-256 trailer etcd appends (the size is 32 past a multiple of 512, as etcdctl
// checks, and the digest matches the bytes before it), fsyncs, renames the file into
// place and prints "Snapshot saved at <file>". Progress goes to stderr as the JSON log
// lines etcdctl 3.5 writes. The bytes are stored as received, whatever the server's
// backend format. Any failure after the argument check exits 5 (ExitInterrupted), as
// etcdctl's does, and the .part file is removed.
//
// `snapshot status` and `snapshot restore` are etcdutl's in etcdctl 3.5, kept as
// deprecated aliases: `deprecatedUtlAliases` makes them from tsetcdutl's commands.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { MaintenanceService } from '../../proto/etcdserverpb.js';
import { GrpcCode, GrpcError } from '../../api/grpc/status.js';
import { argBytes } from './argv.js';
import { CtlClient, RpcError } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { connect, endpointsOf } from './global.js';
import { humanizeBytes } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { zapInfo } from './zaplog.js';
import { Progress, stderrSink } from '../progress.js';

/** Go's texts for the errors a file can meet here. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EXDEV: 'invalid cross-device link',
};

const SHA256_BYTES = 32;
const SECTOR_BYTES = 512;

/** go-humanize's Time for a moment in the past: "now", "1 second ago", "5 minutes ago". */
export function humanizeAgo(elapsedMs: number): string {
  const s = Math.floor(elapsedMs / 1000);
  if (s < 1) return 'now';
  if (s < 2) return '1 second ago';
  if (s < 60) return `${s} seconds ago`;
  if (s < 120) return '1 minute ago';
  if (s < 3600) return `${Math.floor(s / 60)} minutes ago`;
  if (s < 7200) return '1 hour ago';
  return `${Math.floor(s / 3600)} hours ago`;
}

/** Go's *PathError text: "open <path>: no such file or directory". */
function pathError(op: string, file: string, err: NodeJS.ErrnoException): string {
  const text = (err.code !== undefined ? ERRNO_TEXT[err.code] : undefined) ?? err.message;
  return `${op} ${file}: ${text}`;
}

const CODE_NAMES = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

function streamError(err: unknown): string {
  if (err instanceof GrpcError) return `rpc error: code = ${CODE_NAMES.get(err.code) ?? err.code} desc = ${err.message}`;
  return (err as Error).message;
}

/** Receives the whole snapshot into `fd`; returns its size and whether the trailer verifies. */
async function receive(client: CtlClient, fd: number, deadline: number | undefined, io: Io): Promise<{ size: number; digestOk: boolean }> {
  const stream = await client.openStream(MaintenanceService.methods.Snapshot.path);
  io.err(zapInfo('opened snapshot stream; downloading', [], { logger: 'client', caller: 'v3/maintenance.go:212' }));
  const hash = crypto.createHash('sha256');
  // the last 32 bytes seen are held back: they are the trailer, not data
  let tail = Buffer.alloc(0);
  let size = 0;
  // bytes, rate and time left on a terminal; nothing when stderr is not one
  const progress = new Progress('saving', stderrSink());
  stream.onMessage = (m) => {
    const resp = MaintenanceService.methods.Snapshot.response.decode(m);
    const blob = resp.blob;
    fs.writeSync(fd, blob);
    size += blob.length;
    progress.update(size, size + Number(resp.remaining_bytes));
    const joined = Buffer.concat([tail, blob]);
    const cut = Math.max(0, joined.length - SHA256_BYTES);
    hash.update(joined.subarray(0, cut));
    tail = joined.subarray(cut);
  };
  stream.send(MaintenanceService.methods.Snapshot.request.encode({}));
  stream.end();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    if (deadline !== undefined) timer = setTimeout(() => (stream.cancel(), reject(new RpcError('context deadline exceeded'))), Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([stream.done, expired]);
  } finally {
    clearTimeout(timer);
    progress.done();
  }
  io.err(zapInfo('completed snapshot read; closing', [], { logger: 'client', caller: 'v3/maintenance.go:220' }));
  return { size, digestOk: tail.length === SHA256_BYTES && hash.digest().equals(tail) };
}

/** Waits until the endpoint answers (clientv3.New dials with a timeout and authenticates). */
async function dial(client: CtlClient, endpoint: string, dialTimeoutMs: number): Promise<void> {
  try {
    await client.call(MaintenanceService.methods.Status, {}, Date.now() + dialTimeoutMs, { repeatable: true, endpoint });
  } catch (err) {
    // a refusal still proves the endpoint is there; only an unreachable one stops here
    if (err instanceof RpcError && err.message === 'context deadline exceeded') throw err;
    if (err instanceof CtlExit) throw new RpcError(err.errorText ?? 'authentication failed');
  }
}

async function save(ctx: RunContext, file: string, fileBytes: Buffer): Promise<void> {
  // the settings (and --debug's listing) as for every command; the client dials later
  const { client: unused, settings } = connect(ctx);
  unused.close();
  const endpoints = endpointsOf(ctx.flags);
  // without an explicit --command-timeout, a snapshot may take as long as it takes
  const timeout = ctx.flags.get('command-timeout');
  const deadline = timeout.changed ? Date.now() + Number(timeout.duration / 1_000_000n) : undefined;
  if (endpoints.length !== 1) throw new RpcError(`snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]`);
  const client = new CtlClient(endpoints, settings);
  const part = `${file}.part`;
  const partBytes = Buffer.concat([fileBytes, Buffer.from('.part')]);
  try {
    await dial(client, endpoints[0]!, settings.dialTimeoutMs);
    let fd: number;
    try {
      fd = fs.openSync(partBytes, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    } catch (err) {
      throw new RpcError(`could not open ${part} (${pathError('open', part, err as NodeJS.ErrnoException)})`);
    }
    ctx.io.err(zapInfo('created temporary db file', [['path', part]], { caller: 'snapshot/v3_snapshot.go:65' }));
    const started = Date.now();
    ctx.io.err(zapInfo('fetching snapshot', [['endpoint', endpoints[0]!]], { caller: 'snapshot/v3_snapshot.go:73' }));
    let got: { size: number; digestOk: boolean };
    try {
      got = await receive(client, fd, deadline, ctx.io).catch((err: unknown) => {
        throw new RpcError(streamError(err));
      });
      if ((got.size % SECTOR_BYTES) !== SHA256_BYTES) throw new RpcError(`sha256 checksum not found [bytes: ${got.size}]`);
      if (!got.digestOk) throw new RpcError('sha256 checksum mismatch: the snapshot was corrupted in transit');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    ctx.io.err(
      zapInfo(
        'fetched snapshot',
        [
          ['endpoint', endpoints[0]!],
          ['size', humanizeBytes(got.size)],
          ['took', humanizeAgo(Date.now() - started)],
        ],
        { caller: 'snapshot/v3_snapshot.go:88' },
      ),
    );
    try {
      fs.renameSync(partBytes, fileBytes);
    } catch (err) {
      throw new RpcError(`could not rename ${part} to ${file} (${pathError('rename', `${part} ${file}`, err as NodeJS.ErrnoException)})`);
    }
    ctx.io.err(zapInfo('saved', [['path', file]], { caller: 'snapshot/v3_snapshot.go:97' }));
  } finally {
    client.close();
    fs.rmSync(partBytes, { force: true });
  }
}

export async function snapshotSaveCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'snapshot save expects one argument');
  const file = ctx.args[0]!;
  // the file name is used as given, bytes and all
  const fileBytes = argBytes(file);
  try {
    await save(ctx, file, fileBytes);
  } catch (err) {
    if (err instanceof RpcError) throw new CtlExit(ExitCode.Interrupted, err.message);
    throw err;
  }
  ctx.io.out(Buffer.concat([Buffer.from('Snapshot saved at '), fileBytes, Buffer.from('\n')]));
}

export const SNAPSHOT_COMMAND: CommandSpec = {
  use: 'snapshot <subcommand>',
  short: 'Saves snapshots of a member\'s storage',
  children: [{ use: 'save <filename>', short: 'Saves the storage of one member to a file', run: snapshotSaveCommand }],
};

/**
 * etcdctl 3.5's `snapshot status|restore`: tsetcdutl's own commands, run after the
 * deprecation notice etcdctl prints. `utlSnapshot` is tsetcdutl's `snapshot` command.
 */
export function deprecatedUtlAliases(utlSnapshot: CommandSpec): CommandSpec[] {
  return (utlSnapshot.children ?? [])
    .filter((c) => ['status', 'restore'].includes(c.use.split(' ')[0]!) && c.run !== undefined)
    .map((c) => {
      const name = c.use.split(' ')[0]!;
      const run = c.run!;
      return {
        ...c,
        short: `[deprecated] ${c.short}`,
        long: `${c.long ?? ''}\nMoved to 'tsetcdutl snapshot ${name} ...'\n`,
        run: async (ctx: RunContext) => {
          ctx.io.err(`Deprecated: Use \`tsetcdutl snapshot ${name}\` instead.\n\n`);
          await run(ctx);
        },
      };
    });
}
