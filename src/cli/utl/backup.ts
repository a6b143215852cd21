// tsetcdutl backup --data-dir --backup-dir [--wal-dir --backup-wal-dir] [--with-v3]:
// etcdutl's legacy offline backup, for a stopped tsetcd member's data dir.
//
// What etcdutl's backup does to an etcd data dir, and what this one does the same way:
// - the keyspace (every revision, leases, auth, alarms) is copied as it is;
// - the copy belongs to a new cluster: fresh random member and cluster IDs, and the old
//   member list is replaced by one member named "etcdctl-v2-backup" whose peer URL,
//   http://use-flag--force-new-cluster:2080, says how to start it: with
//   --force-new-cluster (and the peer URLs it should really have);
// - the WAL is rewritten: no configuration change of the old cluster survives in it.
// Where it differs: etcd keeps the old WAL's entries (conf changes turned into no-ops);
// tsetcd's backend holds everything the member applied, so the new WAL starts as a
// restored member's does (src/snapshot/restore.ts: one committed AddNode for the backup
// member). The source must have stopped cleanly: a member killed before its backend
// committed would lose its last batch here (tsetcd replays that batch at its own start).
// --with-v3=false backed up only etcd's v2 store, which tsetcd has not: as etcdutl 3.6,
// it is refused with a warning and does nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Backend } from '../../backend/backend.js';
import { fileKind } from '../../backend/file-kind.js';
import { etcdSnapshotStream } from '../../snapshot/export.js';
import { restoreSnapshot } from '../../snapshot/restore.js';
import { DirLock } from '../../wal/lock.js';
import { WalLockedError } from '../../wal/errors.js';
import type { RunContext } from '../ctl/cmdtree.js';
import { rfc3339Local } from '../ctl/gofmt.js';
import { CtlExit, ExitCode, type Io } from '../ctl/io.js';

/** etcdutl's names for the member a backup holds: it cannot be started without --force-new-cluster. */
export const BACKUP_MEMBER_NAME = 'etcdctl-v2-backup';
export const BACKUP_PEER_URL = 'http://use-flag--force-new-cluster:2080';

export interface BackupOptions {
  dataDir: string;
  backupDir: string;
  walDir?: string;
  backupWalDir?: string;
  log: (level: 'info' | 'warn', msg: string, fields: Record<string, string | number>) => void;
}

/** Writes the backend of a stopped member as an etcd-format database file. */
async function exportBackend(dbPath: string, out: string): Promise<void> {
  const backend = Backend.open(dbPath);
  const view = backend.readView();
  try {
    const fd = fs.openSync(out, 'wx', 0o600);
    try {
      for (const chunk of etcdSnapshotStream(view, {}).chunks) fs.writeSync(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    view.release();
    await backend.close();
  }
}

export async function backupDataDir(o: BackupOptions): Promise<{ memberId: bigint; clusterId: bigint }> {
  const dbPath = path.join(o.dataDir, 'member', 'snap', 'db');
  const walDir = o.walDir || path.join(o.dataDir, 'member', 'wal');
  const kind = fileKind(dbPath);
  if (kind === 'bbolt') throw new Error(`${o.dataDir} is an etcd data dir; back it up with etcdutl backup, or restore it with tsetcdutl snapshot restore ${o.dataDir}`);
  if (kind !== 'lmdb') throw new Error(`${dbPath}: ${kind === 'missing' ? 'no such file or directory' : `not a tsetcd backend (${kind})`}`);
  if (!fs.existsSync(walDir)) throw new Error(`open ${walDir}: no such file or directory`);
  let lock: DirLock;
  try {
    lock = await DirLock.acquire(walDir);
  } catch (err) {
    if (err instanceof WalLockedError) throw new Error(`timed out waiting to acquire lock on ${dbPath}: stop the member first`);
    throw err;
  }
  const tmpDb = `${path.resolve(o.backupDir)}.backup-tmp.db`;
  fs.rmSync(tmpDb, { force: true });
  try {
    await exportBackend(dbPath, tmpDb);
  } finally {
    await lock.release();
  }
  try {
    const r = await restoreSnapshot({
      snapshotPath: tmpDb,
      name: BACKUP_MEMBER_NAME,
      dataDir: o.backupDir,
      ...(o.backupWalDir ? { walDir: o.backupWalDir } : {}),
      initialCluster: `${BACKUP_MEMBER_NAME}=${BACKUP_PEER_URL}`,
      // a random token makes new member and cluster IDs, as etcdutl's random ones
      initialClusterToken: crypto.randomBytes(16).toString('hex'),
      initialAdvertisePeerUrls: BACKUP_PEER_URL,
      skipHashCheck: true,
      bumpRevision: 0,
      markCompacted: false,
    });
    o.log('info', 'backed up data dir', { 'data-dir': o.dataDir, 'backup-dir': r.dataDir, 'backup-wal-dir': r.walDir, 'member-id': r.memberId.toString(16), 'cluster-id': r.clusterId.toString(16), revision: r.revision });
    return { memberId: r.memberId, clusterId: r.clusterId };
  } finally {
    fs.rmSync(tmpDb, { force: true });
  }
}

function zapLine(io: Io): BackupOptions['log'] {
  return (level, msg, fields) => {
    const json = Object.entries(fields)
      .map(([k, v]) => `${JSON.stringify(k)}: ${typeof v === 'string' ? JSON.stringify(v) : v}`)
      .join(', ');
    io.err(`${rfc3339Local()}\t${level}\tutl/backup.ts\t${msg}\t{${json}}\n`);
  };
}

export async function backupCommand(ctx: RunContext): Promise<void> {
  const f = ctx.flags;
  const log = zapLine(ctx.io);
  if (!f.get('with-v3').bool) {
    log('warn', '-with-v3=false is not supported: tsetcd has no v2 store to back up; nothing was done', {});
    return;
  }
  try {
    await backupDataDir({
      dataDir: f.get('data-dir').string,
      backupDir: f.get('backup-dir').string,
      walDir: f.get('wal-dir').string,
      backupWalDir: f.get('backup-wal-dir').string,
      log,
    });
  } catch (err) {
    throw new CtlExit(ExitCode.Error, (err as Error).message);
  }
}
