// An exclusive lock on a WAL directory, held by a lock file that names the holder.
//
// Node has no flock(), so the lock is a file created atomically with link() (which fails if the
// name exists) holding "<pid> <start-time>". A lock whose holder is gone is stale and is taken
// over. The holder counts as gone when kill(pid, 0) says ESRCH, when /proc says the process is
// a zombie, or when /proc gives a different start time for that pid (the pid was reused: after
// a container restart the new server often gets the very pid of the old one). A lock naming our
// own pid that this process does not hold is stale for the same reason.
//
// Known gap: two processes that both find the same stale lock at the same instant can both
// remove it; link() then lets only one create the new file, but the loser may already have
// removed the winner's. That takes two servers started on one data dir within microseconds.

import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WalLockedError, describe, errnoCode } from './errors.js';
import { LOCK_FILE } from './segments.js';

/** directories this process holds, so a second open() in the same process is refused too */
const heldHere = new Set<string>();

interface Holder {
  pid: number;
  startTime: string | null;
}

/** field 22 of /proc/<pid>/stat (start time in clock ticks since boot) and the state letter */
function procStat(pid: number): { state: string; startTime: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: cut after the last ')'
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    const startTime = rest[19];
    if (state === undefined || startTime === undefined) return null;
    return { state, startTime };
  } catch {
    return null;
  }
}

const ownStartTime = procStat(process.pid)?.startTime ?? null;

function parseHolder(text: string): Holder | null {
  const [pidText, startTime] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  return { pid, startTime: startTime !== undefined && startTime !== '' ? startTime : null };
}

function isAlive(h: Holder): boolean {
  if (h.pid === process.pid) return false; // we would have it in heldHere
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false;
  }
  const st = procStat(h.pid);
  if (st === null) return true; // no /proc: trust kill()
  if (st.state === 'Z' || st.state === 'X') return false;
  return h.startTime === null || h.startTime === st.startTime;
}

export class DirLock {
  private released = false;
  private constructor(
    readonly dir: string,
    private readonly key: string,
  ) {}

  /** Takes the lock on `dir` or throws WalLockedError naming the holder. */
  static async acquire(dir: string): Promise<DirLock> {
    const key = resolve(dir);
    if (heldHere.has(key)) throw new WalLockedError(dir, process.pid);
    try {
      return await DirLock.take(dir, key);
    } catch (err) {
      if (err instanceof WalLockedError) throw err;
      throw new Error(`wal: cannot lock ${dir}: ${describe(err)}`, { cause: err });
    }
  }

  private static async take(dir: string, key: string): Promise<DirLock> {
    const path = join(dir, LOCK_FILE);
    const tmp = `${path}.${process.pid}`;
    await writeFile(tmp, DirLock.contents(), { mode: 0o600 });
    try {
      // bounded: each pass either links, throws, or removes one stale file
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          await link(tmp, path);
          heldHere.add(key);
          return new DirLock(dir, key);
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err;
        }
        const holder = await readHolder(path);
        if (holder !== null && isAlive(holder)) throw new WalLockedError(dir, holder.pid);
        await rm(path, { force: true });
      }
      throw new Error(`wal: could not take the lock file ${path}: it keeps reappearing`);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Marks `dir` as held by this process without touching disk (create() wrote the file itself). */
  static adopt(dir: string): DirLock {
    const key = resolve(dir);
    if (heldHere.has(key)) throw new WalLockedError(dir, process.pid);
    heldHere.add(key);
    return new DirLock(dir, key);
  }

  /** The contents create() puts in the lock file of a WAL it builds. */
  static contents(): string {
    return `${process.pid} ${ownStartTime ?? ''}\n`;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.key);
    const path = join(this.dir, LOCK_FILE);
    const holder = await readHolder(path).catch(() => null);
    if (holder !== null && holder.pid === process.pid) await rm(path, { force: true });
  }
}

async function readHolder(path: string): Promise<Holder | null> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}
