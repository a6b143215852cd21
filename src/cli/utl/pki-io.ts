// What the pki commands share: their I/O (so tests can run them in-process), cfssl's log
// line format, and reading an input file or standard input with a useful error.

import { readFile } from 'node:fs/promises';
import { fileReadError } from '../../pki/errors.js';

export interface PkiIo {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<Buffer>;
}

/** Levels as cfssl's -loglevel numbers them. */
export const LOG_LEVEL = { debug: 0, info: 1, warning: 2, error: 3 } as const;

/** A line on stderr in cfssl's log format: "2006/01/02 15:04:05 [INFO] message". */
export function logLine(level: keyof typeof LOG_LEVEL, message: string, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}/${p(now.getMonth() + 1)}/${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
  return `${stamp} [${level.toUpperCase()}] ${message}\n`;
}

/** Reads a named file, or standard input for "-", with a message that names the file on failure. */
export async function readInput(io: PkiIo, file: string, what: string): Promise<string> {
  if (file === '-') return (await io.readStdin()).toString('utf8');
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw fileReadError(e, file, what);
  }
}
