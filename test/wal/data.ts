// Deterministic test entries, shared by the tests and by the child process of the crash test
// (kept apart from helpers.ts, which pulls in node:test).

import type { Entry } from '../../src/raft/types.js';

/** entry `index` of `term` with deterministic data of `size` bytes */
export function entry(index: number, term = 1, size = 16): Entry {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i * 7 + term) & 0xff;
  return { index, term, type: 0, data };
}

export function entries(from: number, to: number, term = 1, size = 16): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

/** entry size the crash test uses for an index: mostly small, sometimes spanning several sectors */
export function sizeFor(index: number): number {
  return index % 17 === 0 ? 3000 : 20 + ((index * 13) % 300);
}
