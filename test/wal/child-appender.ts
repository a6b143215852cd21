// Child process for the lock and crash tests; does nothing unless WAL_CHILD_DIR is set (the
// test runner executes every .js under dist/test/, this file included).
//
//   WAL_CHILD_MODE=hold    open the WAL, print "ready", and wait to be killed
//   WAL_CHILD_MODE=append  open (or create) the WAL and save batches forever, printing the last
//                          index of each batch once save() has resolved, i.e. once it is durable

import { Wal } from '../../src/wal/index.js';
import { entry, sizeFor } from './data.js';

async function hold(dir: string): Promise<void> {
  await Wal.open(dir);
  process.stdout.write('ready\n');
  setInterval(() => undefined, 1 << 30);
}

async function append(dir: string, segmentSizeBytes: number): Promise<void> {
  const opts = { segmentSizeBytes, keepSegments: 1 };
  const wal = Wal.exists(dir) ? (await Wal.open(dir, undefined, opts)).wal : await Wal.create(dir, Buffer.from('crash-test'), opts);
  let next = wal.lastIndex + 1;
  // bounded by the parent: it kills this process
  for (;;) {
    const n = 1 + (next % 3);
    const batch = Array.from({ length: n }, (_, k) => entry(next + k, 1, sizeFor(next + k)));
    await wal.save({ term: 1, vote: 1n, commit: next - 1 }, batch);
    next += n;
    process.stdout.write(`${next - 1}\n`);
  }
}

const dir = process.env.WAL_CHILD_DIR;
if (dir !== undefined) {
  const mode = process.env.WAL_CHILD_MODE ?? 'append';
  const run = mode === 'hold' ? hold(dir) : append(dir, Number(process.env.WAL_CHILD_SEGMENT_BYTES ?? 65536));
  run.catch((err: unknown) => {
    process.stderr.write(`child-appender: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  });
}
