// Small durable-file helpers shared by the WAL and the snapshotter.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';

/** Writes all of `buf` at `position`. A regular file may accept fewer bytes than asked (disk full, signals). */
export async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  // bounded: every pass either advances or throws
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten} at offset ${position + done}`);
    done += bytesWritten;
  }
}

/** fsync a directory, so a create, rename or unlink inside it survives a crash */
export async function fsyncDir(path: string): Promise<void> {
  const h = await open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Writes `chunks` to `path` atomically: a temp file next to it, fsync, rename over `path`,
 * fsync the directory. A crash leaves either the old state or the whole new file (plus,
 * at worst, the temp file, which readers ignore).
 */
export async function writeFileAtomic(dir: string, path: string, chunks: Uint8Array[], tmpPath = path + '.tmp'): Promise<void> {
  const fh = await open(tmpPath, 'w', 0o600);
  try {
    let pos = 0;
    for (const c of chunks) {
      await writeFully(fh, c, pos);
      pos += c.length;
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmpPath, { force: true }).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmpPath, path);
  await fsyncDir(dir);
}
