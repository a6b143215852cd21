// Failpoints for fault tests, each off unless its env var names a file, and armed while
// that file exists. Meant for tests only.
// - TSETCD_FAILPOINT_WAL_EIO_FILE: every durable WAL write fails the way a failed
//   fdatasync does (EIO, after the bytes reached the page cache). The WAL then refuses
//   all further work and the member stops, as etcd stops on a failed WAL sync.
// - TSETCD_FAILPOINT_WAL_TORN_FILE: the next WAL write stops halfway and the process dies
//   at once (SIGKILL), as a machine that loses power mid-write: the WAL ends in a torn
//   record that was never synced, so never acknowledged.
import fs from 'node:fs';

const FILE = process.env['TSETCD_FAILPOINT_WAL_EIO_FILE'];
const TORN_FILE = process.env['TSETCD_FAILPOINT_WAL_TORN_FILE'];

/** An error shaped like the one node raises when fdatasync returns EIO. */
function eio(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync (injected by TSETCD_FAILPOINT_WAL_EIO_FILE)');
  err.code = 'EIO';
  err.errno = -5;
  err.syscall = 'fdatasync';
  return err;
}

/** Throws an injected EIO when the failpoint is armed; one stat per durable write then. */
export function checkWalSyncFailpoint(): void {
  if (FILE !== undefined && FILE !== '' && fs.existsSync(FILE)) throw eio();
}

/** When armed, writes the first half of `buf` at `offset` of `fd` and kills this process. */
export function tornWriteFailpoint(fd: number, buf: Buffer, offset: number): void {
  if (TORN_FILE === undefined || TORN_FILE === '' || !fs.existsSync(TORN_FILE)) return;
  fs.writeSync(fd, buf, 0, Math.max(1, buf.length >> 1), offset);
  process.kill(process.pid, 'SIGKILL');
}
