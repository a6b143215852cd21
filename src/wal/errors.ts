// Errors the WAL and the snapshotter raise. Callers branch on the class, operators read
// the message: every message names the path (and, for corruption, the byte offset).

/** Something on disk is damaged in a way the WAL will not repair by itself. Nothing was changed on disk. */
export class WalCorruptError extends Error {
  override readonly name = 'WalCorruptError';
  /** absolute or caller-relative path of the damaged file (a directory for whole-log problems) */
  readonly file: string;
  /** byte offset in `file` where the damage starts (0 for whole-file problems) */
  readonly offset: number;

  constructor(file: string, offset: number, what: string) {
    super(`wal: ${file} is corrupt at byte offset ${offset}: ${what}`);
    this.file = file;
    this.offset = offset;
  }
}

/** Another process (or this one) already holds the WAL directory. */
export class WalLockedError extends Error {
  override readonly name = 'WalLockedError';
  readonly pid: number;

  constructor(dir: string, pid: number) {
    super(`wal: ${dir} is locked by process ${pid}`);
    this.pid = pid;
  }
}

/**
 * A Wal method was called while another one was still running. The caller must await each
 * call before the next: the WAL has one writer and keeps no queue of its own.
 */
export class WalBusyError extends Error {
  override readonly name = 'WalBusyError';

  constructor(method: string, running: string) {
    super(`wal: ${method}() called while ${running}() is still in flight; await each WAL call before the next`);
  }
}

/**
 * A write or sync failed earlier. After a failed fdatasync the kernel may have dropped the dirty
 * pages, so retrying could report success for data that is gone: the WAL refuses all further
 * work, and the process must restart (open() repairs whatever tail the failure left behind).
 */
export class WalFailedError extends Error {
  override readonly name = 'WalFailedError';

  constructor(dir: string, cause: unknown) {
    super(`wal: ${dir} is unusable after an earlier I/O failure (${describe(cause)}); restart to recover`, { cause });
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** errno code of a Node system error, or undefined */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
