// tsetcdutl defrag --data-dir: compacts the backend file of a stopped member, as
// etcdutl does: nothing on stdout, two log lines on stderr (before and after, with the
// sizes), and "Failed to defragment etcd data[DIR] (cause)" with exit 1 on failure.
// A running member holds its WAL directory's lock; defrag waits for it to be released.
import fs from 'node:fs';
import path from 'node:path';
import { Backend } from '../../backend/backend.js';
import { DirLock } from '../../wal/lock.js';
import { WalLockedError } from '../../wal/errors.js';
import type { RunContext } from '../ctl/cmdtree.js';
import { goDuration, goQuote, humanizeBytes, rfc3339Local } from '../ctl/gofmt.js';
import { CtlExit, ExitCode, type Io } from '../ctl/io.js';

/** How long defrag waits quietly for a member to let go of the data dir before saying so. */
const QUIET_WAIT_MS = 1000;
const LOCK_POLL_MS = 100;

/** The backend file of a member's data dir. */
export function backendPath(dataDir: string): string {
  return path.join(dataDir, 'member', 'snap', 'db');
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/** os.Stat's error text: "stat <path>: no such file or directory". */
function statError(file: string, err: NodeJS.ErrnoException): Error {
  return new Error(`stat ${file}: ${ERRNO_TEXT[err.code ?? ''] ?? err.message}`);
}

/** A zap console line, as etcdutl's logger writes it to stderr. */
function logInfo(io: Io, msg: string, fields: Array<[string, string | number]>): void {
  const json = fields.map(([k, v]) => `${JSON.stringify(k)}: ${typeof v === 'string' ? JSON.stringify(v) : v}`).join(', ');
  io.err(`${rfc3339Local()}\tinfo\tutl/defrag.ts\t${msg}\t{${json}}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Takes the WAL directory's lock, waiting (and saying so after a second) while a member holds it. */
async function lockDataDir(dataDir: string, dbPath: string, io: Io): Promise<DirLock | undefined> {
  const walDir = path.join(dataDir, 'member', 'wal');
  if (!fs.existsSync(walDir)) return undefined;
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      return await DirLock.acquire(walDir);
    } catch (err) {
      if (!(err instanceof WalLockedError)) throw err;
    }
    if (!told && Date.now() - started >= QUIET_WAIT_MS) {
      told = true;
      io.err(`waiting for etcd to close and release its lock on ${goQuote(dbPath)}. To defrag a running etcd instance, omit --data-dir.\n`);
    }
    await sleep(LOCK_POLL_MS);
  }
}

export async function defragData(dataDir: string, io: Io): Promise<void> {
  const dbPath = backendPath(dataDir);
  try {
    fs.statSync(dbPath);
  } catch (err) {
    throw statError(dbPath, err as NodeJS.ErrnoException);
  }
  const lock = await lockDataDir(dataDir, dbPath, io);
  try {
    const backend = Backend.open(dbPath);
    try {
      const size1 = backend.sizeBytes();
      const inUse1 = backend.sizeInUseBytes();
      logInfo(io, 'defragmenting', [
        ['path', dbPath],
        ['current-db-size-bytes', size1],
        ['current-db-size', humanizeBytes(size1)],
        ['current-db-size-in-use-bytes', inUse1],
        ['current-db-size-in-use', humanizeBytes(inUse1)],
      ]);
      const started = process.hrtime.bigint();
      await backend.defragment();
      const took = process.hrtime.bigint() - started;
      const size2 = backend.sizeBytes();
      const inUse2 = backend.sizeInUseBytes();
      logInfo(io, 'finished defragmenting directory', [
        ['path', dbPath],
        ['current-db-size-bytes-diff', size2 - size1],
        ['current-db-size-bytes', size2],
        ['current-db-size', humanizeBytes(size2)],
        ['current-db-size-in-use-bytes-diff', inUse2 - inUse1],
        ['current-db-size-in-use-bytes', inUse2],
        ['current-db-size-in-use', humanizeBytes(inUse2)],
        ['took', goDuration(took)],
      ]);
    } finally {
      await backend.close();
    }
  } finally {
    await lock?.release();
  }
}

export async function defragCommand(ctx: RunContext): Promise<void> {
  const dataDir = ctx.flags.get('data-dir').string;
  try {
    await defragData(dataDir, ctx.io);
  } catch (err) {
    throw new CtlExit(ExitCode.Error, `Failed to defragment etcd data[${dataDir}] (${(err as Error).message})`);
  }
}
