// Worker thread: the SHA-256 of the first `lengthBytes` bytes of a file, posted back as a
// Buffer (or an error message). Restore verifies a snapshot's trailer here while the main
// thread loads the database, so the check costs no wall time on a machine with two cores.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const READ_CHUNK_BYTES = 1 << 20;

function sha256Of(file: string, lengthBytes: number): Buffer {
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

const { file, lengthBytes } = workerData as { file: string; lengthBytes: number };
try {
  parentPort!.postMessage({ digest: sha256Of(file, lengthBytes) });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message });
}
