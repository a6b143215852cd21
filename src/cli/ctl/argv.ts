// Command-line arguments as the bytes the shell passed, not as Node's text.
//
// Node decodes argv as UTF-8 and turns every invalid byte into U+FFFD before any
// JavaScript runs, so `put $'bin\xff' v` would store EF BF BD. etcdctl passes bytes
// through. On Linux the kernel keeps the raw argument vector in /proc/self/cmdline; we
// take its last entries (the user's arguments follow node's own and the script path),
// check that each decodes to the corresponding process.argv entry, and re-decode them
// reversibly: valid UTF-8 stays as it is, and each byte of an invalid sequence becomes
// the lone surrogate U+DC80+byte (Python's "surrogateescape"). Lone surrogates cannot
// come out of a real UTF-8 decode, so `argBytes` maps such strings back to the exact
// bytes, and every other string to its UTF-8 encoding.
import fs from 'node:fs';
import { stringBytes } from '../../pkg/go-text.js';

const ESCAPE_BASE = 0xdc00;

/** Decodes bytes as UTF-8, escaping the bytes of invalid sequences as U+DC80..U+DCFF. */
export function decodeEscaped(raw: Uint8Array): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const len = sequenceLength(raw, i);
    if (len === 0) {
      out += String.fromCharCode(ESCAPE_BASE + raw[i]!);
      i++;
      continue;
    }
    out += decoder.decode(raw.subarray(i, i + len));
    i += len;
  }
  return out;
}

/** The length of the valid UTF-8 sequence starting at `i`, or 0 when it is invalid. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/** The bytes an argument string stands for (the inverse of decodeEscaped). */
export function argBytes(s: string): Buffer {
  return stringBytes(s);
}

/** The raw argument vector of this process, or undefined where /proc is not there. */
function rawCmdline(path: string): Buffer[] | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(path);
  } catch {
    return undefined;
  }
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      out.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < data.length) out.push(data.subarray(start));
  return out;
}

/**
 * The user's arguments (`argv` without node and the script) with their raw bytes
 * recovered. When the raw vector cannot be matched to `argv` one for one (no /proc,
 * or a launcher rewrote the arguments), `argv` is returned as Node decoded it.
 */
export function rawUserArgs(argv: readonly string[], cmdlinePath = '/proc/self/cmdline'): string[] {
  const user = argv.slice(2);
  const raw = rawCmdline(cmdlinePath);
  if (!raw || raw.length < user.length) return user;
  const tail = raw.slice(raw.length - user.length);
  for (let i = 0; i < user.length; i++) {
    if (tail[i]!.toString('utf8') !== user[i]) return user;
  }
  return tail.map(decodeEscaped);
}
