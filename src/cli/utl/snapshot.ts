// tsetcdutl snapshot status | restore, with etcdutl 3.5's flags, outputs and exit codes.
// Both read etcd's snapshot files and tsetcd's alike (they are the same format); restore
// makes a tsetcd data dir (src/snapshot/restore.ts).
import { goJsonStruct, humanizeBytes } from '../ctl/gofmt.js';
import type { CommandSpec, RunContext } from '../ctl/cmdtree.js';
import { CtlExit, ExitCode, type Io } from '../ctl/io.js';
import { renderTable } from '../ctl/table.js';
import { Progress, stderrSink } from '../progress.js';
import type { SnapshotStatus } from '../../snapshot/status.js';
import { rfc3339Local } from '../ctl/gofmt.js';
import { GLOBAL_FLAGS } from '../ctl/global.js';
import { snapshotSaveCommand } from '../ctl/snapshot-commands.js';

/** etcdutl's restore defaults */
const DEFAULT_NAME = 'default';
const DEFAULT_PEER_URL = 'http://localhost:2380';

export function snapshotCommandSpec(): CommandSpec {
  return {
    use: 'snapshot <subcommand>',
    short: 'Manages etcd node snapshots',
    children: [
      {
        use: 'save <filename>',
        short: 'Saves the storage of one member to a file, as etcdctl snapshot save does',
        long:
          "etcdutl 3.5 only points to 'etcdctl snapshot save'; tsetcdutl does the save itself, with etcdctl's\n" +
          'connection flags (--endpoints, --cacert, --cert, --key, --user, ...) and output.\n',
        persistentFlags: GLOBAL_FLAGS.filter((f) => f.name !== 'write-out'),
        run: snapshotSaveCommand,
      },
      {
        use: 'status <filename>',
        short: 'Gets backend snapshot status of a given file',
        long:
          'With --write-out=simple it prints one comma-separated line: hash, revision, total keys, total size.\n' +
          'Reads snapshots saved from etcd and from tsetcd alike.\n',
        run: statusCommand,
      },
      {
        use: 'restore <filename> --data-dir {output dir} [options]',
        short: 'Restores an etcd member snapshot to a tsetcd data directory',
        flags: [
          { name: 'data-dir', kind: 'string', def: '', usage: 'Path to the output data directory' },
          { name: 'wal-dir', kind: 'string', def: '', usage: 'Path to the WAL directory (use --data-dir if none given)' },
          { name: 'initial-cluster', kind: 'string', def: `${DEFAULT_NAME}=${DEFAULT_PEER_URL}`, usage: 'Initial cluster configuration for restore bootstrap' },
          { name: 'initial-cluster-token', kind: 'string', def: 'etcd-cluster', usage: 'Initial cluster token for the etcd cluster during restore bootstrap' },
          { name: 'initial-advertise-peer-urls', kind: 'string', def: DEFAULT_PEER_URL, usage: "List of this member's peer URLs to advertise to the rest of the cluster" },
          { name: 'name', kind: 'string', def: DEFAULT_NAME, usage: 'Human-readable name for this member' },
          { name: 'skip-hash-check', kind: 'bool', def: 'false', usage: 'Ignore snapshot integrity hash value (required if copied from data directory)' },
          { name: 'bump-revision', kind: 'int64', def: '0', usage: 'How much to increase the latest revision after restore' },
          { name: 'mark-compacted', kind: 'bool', def: 'false', usage: 'Mark the latest revision after restore as the point of scheduled compaction (required if --bump-revision > 0, disallowed otherwise)' },
        ],
        requiredFlags: ['data-dir'],
        run: restoreCommand,
      },
    ],
  };
}

async function statusCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'snapshot status requires exactly one argument');
  const format = ctx.flags.get('write-out').string;
  let status: SnapshotStatus;
  try {
    // loaded here, not at start-up: tsetcdctl carries these commands as deprecated aliases
    const { snapshotStatus } = await import('../../snapshot/status.js');
    status = snapshotStatus(ctx.args[0]!);
  } catch (err) {
    throw new CtlExit(ExitCode.Error, (err as Error).message);
  }
  printStatus(ctx.io, format, status);
}

export function printStatus(io: Io, format: string, s: SnapshotStatus): void {
  const row = [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)];
  switch (format) {
    case 'simple':
      io.out(row.join(', ') + '\n');
      return;
    case 'json':
      io.out(goJsonStruct([['hash', s.hash], ['revision', s.revision], ['totalKey', s.totalKey], ['totalSize', s.totalSize]]) + '\n');
      return;
    case 'fields':
      io.out(`"Hash" : ${s.hash}\n"Revision" : ${s.revision}\n"Keys" : ${s.totalKey}\n"Size" : ${s.totalSize}\n`);
      return;
    case 'table':
      io.out(renderTable(['hash', 'revision', 'total keys', 'total size'], [row]));
      return;
    default:
      throw new CtlExit(ExitCode.BadFeature, `${format} not supported as output format`);
  }
}

async function restoreCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(ExitCode.BadArgs, 'snapshot restore requires exactly one argument');
  const f = ctx.flags;
  const { restoreSnapshot, RestoreUsageError } = await import('../../snapshot/restore.js');
  const progress = new Progress('restoring', stderrSink());
  try {
    await restoreSnapshot({
      snapshotPath: ctx.args[0]!,
      name: f.get('name').string,
      dataDir: f.get('data-dir').string,
      walDir: f.get('wal-dir').string,
      initialCluster: f.get('initial-cluster').string,
      initialClusterToken: f.get('initial-cluster-token').string,
      initialAdvertisePeerUrls: f.get('initial-advertise-peer-urls').string,
      skipHashCheck: f.get('skip-hash-check').bool,
      bumpRevision: bumpRevision(f.get('bump-revision').int64),
      markCompacted: f.get('mark-compacted').bool,
      onProgress: (_phase, done, total) => progress.update(done, total),
      log: (msg, fields) => logLine(ctx.io, msg, fields),
    });
  } catch (err) {
    progress.done();
    if (err instanceof RestoreUsageError) throw new CtlExit(ExitCode.BadArgs, err.message);
    throw new CtlExit(ExitCode.Error, (err as Error).message);
  }
  progress.done();
}

function bumpRevision(n: bigint): number {
  if (n < 0n) throw new CtlExit(ExitCode.BadArgs, `invalid argument "${n}" for "--bump-revision" flag: strconv.ParseUint: parsing "${n}": invalid syntax`);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new CtlExit(ExitCode.BadArgs, `--bump-revision ${n} is larger than a revision can be`);
  return Number(n);
}

/** A zap console line on stderr, as etcdutl's logger writes it. */
function logLine(io: Io, msg: string, fields: Record<string, string | number | string[]>): void {
  const json = Object.entries(fields)
    .map(([k, v]) => `${JSON.stringify(k)}: ${typeof v === 'number' ? v : JSON.stringify(v)}`)
    .join(', ');
  io.err(`${rfc3339Local()}\tinfo\tsnapshot/restore.ts\t${msg}\t{${json}}\n`);
}
