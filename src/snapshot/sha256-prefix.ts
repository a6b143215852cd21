// The SHA-256 of the first `lengthBytes` bytes of a file, read in MiB pieces: the digest a
// snapshot's trailer holds. Used on the main thread and by sha256-worker.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';

const READ_CHUNK_BYTES = 1 << 20;

export function sha256OfPrefix(file: string, lengthBytes: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const h = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (let pos = 0; pos < lengthBytes; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, lengthBytes - pos), pos);
      if (n <= 0) throw new Error(`${file}: unexpected end of file at byte ${pos}`);
      h.update(buf.subarray(0, n));
      pos += n;
    }
    return h.digest();
  } finally {
    fs.closeSync(fd);
  }
}
