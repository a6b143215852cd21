// One error type for everything pki refuses: its message is a whole sentence for a person,
// already naming the file or flag at fault, so callers print it as it is.

export class PkiError extends Error {
  override name = 'PkiError';
  constructor(message: string) {
    super(message);
  }
}
/** The PkiError that says why `file` (described as `what`) could not be read. */
export function fileReadError(e: unknown, file: string, what: string): PkiError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new PkiError(`${what} ${file} does not exist; check the path`);
  if (code === 'EACCES') return new PkiError(`${what} ${file} is not readable by this user; fix its permissions`);
  if (code === 'EISDIR') return new PkiError(`${what} ${file} is a directory, not a file`);
  return new PkiError(`${what} ${file} cannot be read: ${(e as Error).message}`);
}

