// One error type for everything pki refuses: its message is a whole sentence for a person,
// already naming the file or flag at fault, so callers print it as it is.

export class PkiError extends Error {
  override name = 'PkiError';
  constructor(message: string) {
    super(message);
  }
}
