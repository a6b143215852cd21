// Throughput of the bbolt writer and reader on an etcd-shaped file: N revision keys
// (17 bytes) with values of VALUE_BYTES, written to a file, then read back in full.
//
//   node dist/bench/bbolt-file.js [N=1000000] [VALUE_BYTES=200] [FILE=/tmp/tsetcd-bbolt-bench.db]
//
// Entries come from one reused key and value buffer, so the numbers are the writer's and
// reader's own cost. Prints MB/s for each pass; the file is left for other tools to read.

import fs from 'node:fs';
import { BboltFile } from '../src/bbolt/reader.js';
import { writeBboltFile, type BboltBucket } from '../src/bbolt/writer.js';

const n = Number(process.argv[2] ?? 1_000_000);
const valueBytes = Number(process.argv[3] ?? 200);
const file = process.argv[4] ?? '/tmp/tsetcd-bbolt-bench.db';

function keyBucket(): BboltBucket {
  return {
    name: Buffer.from('key'),
    *entries() {
      const k = Buffer.alloc(17);
      k[8] = 0x5f;
      const v = Buffer.alloc(valueBytes, 0x61);
      const entry = [k, v] as const;
      for (let i = 1; i <= n; i++) {
        k.writeUInt32BE(i, 4);
        v.writeUInt32BE(i, 0);
        yield entry;
      }
    },
  };
}

const mb = (bytes: number, ms: number): string => `${((bytes / 1e6) / (ms / 1000)).toFixed(0)} MB/s`;

let t = performance.now();
const size = await writeBboltFile(file, [keyBucket(), { name: Buffer.from('meta'), entries: () => [] }]);
const writeMs = performance.now() - t;
console.log(`write: ${n} keys, ${(size / 1e6).toFixed(1)} MB in ${writeMs.toFixed(0)} ms (${mb(size, writeMs)}, fsync included)`);

t = performance.now();
const f = BboltFile.open(file);
let count = 0;
let bytes = 0;
for (const [k, v] of f.entries(Buffer.from('key'))) {
  count++;
  bytes += k.length + v.length;
}
const readMs = performance.now() - t;
f.close();
if (count !== n) throw new Error(`read ${count} entries, wrote ${n}`);
console.log(`read:  ${count} entries, ${(bytes / 1e6).toFixed(1)} MB of keys+values in ${readMs.toFixed(0)} ms (${mb(fs.statSync(file).size, readMs)} of file)`);
