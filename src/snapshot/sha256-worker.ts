// Worker thread: sha256OfPrefix of workerData's file, posted back as a Buffer (or an error
// message). Restore verifies a snapshot's trailer here while the main thread loads the
// database, so the check costs no wall time on a machine with two cores.
import { parentPort, workerData } from 'node:worker_threads';
import { sha256OfPrefix } from './sha256-prefix.js';

const { file, lengthBytes } = workerData as { file: string; lengthBytes: number };
try {
  parentPort!.postMessage({ digest: sha256OfPrefix(file, lengthBytes) });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message });
}
