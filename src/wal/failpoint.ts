// A failpoint for fault tests, off unless TSETCD_FAILPOINT_WAL_EIO_FILE is set: while the
// file it names exists, every durable WAL write fails the way a failed fdatasync does
// (EIO, after the bytes reached the page cache). The WAL then refuses all further work and
// the member stops, as etcd stops on a failed WAL sync. Meant for tests only.
import fs from 'node:fs';

const FILE = process.env['TSETCD_FAILPOINT_WAL_EIO_FILE'];

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
