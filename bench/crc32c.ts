// Micro-benchmark: CRC-32C by the JS slice-by-8 table against @node-rs/crc32's native
// (SIMD) code, per input size; it is how src/pkg/crc32c.ts's NATIVE_FROM_BYTES was chosen.
//
//   npm run build; node dist/bench/crc32c.js
//
// Not run by the tests: timings are printed, never asserted.
import { createRequire } from 'node:module';
import { crc32cTable } from '../src/pkg/crc32c.js';

const native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c(b: Uint8Array, prev?: number): number }).crc32c;

function nsPerCall(f: (b: Uint8Array, prev: number) => number, b: Uint8Array, budgetBytes: number): number {
  const iters = Math.max(100, Math.floor(budgetBytes / Math.max(b.length, 16)));
  let h = f(b, 0);
  const t = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) h = f(b, h);
  return Number(process.hrtime.bigint() - t) / iters;
}

console.log('bytes\tjs ns\tnative ns\tjs GB/s\tnative GB/s');
for (const size of [17, 64, 128, 256, 512, 4096, 65536, 1 << 20]) {
  const b = Buffer.alloc(size, 0xa5);
  const js = nsPerCall(crc32cTable, b, 64 << 20);
  const nat = nsPerCall(native, b, 256 << 20);
  console.log(`${size}\t${js.toFixed(0)}\t${nat.toFixed(0)}\t${(size / js).toFixed(2)}\t${(size / nat).toFixed(2)}`);
}
