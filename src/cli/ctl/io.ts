// Process plumbing shared by tsetcdctl and tsetcdutl: etcdctl's exit codes, the error
// that ends a command with one, and output streams that are fully written before exit.
import { stringBytes } from '../../pkg/go-text.js';

/** etcdctl's exit codes (cobrautl). */
export const ExitCode = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  InvalidInput: 3,
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;

/**
 * Ends the command with `code`. With a message, "Error: <message>" goes to stderr first,
 * as etcdctl's ExitWithError prints it; without one the process just exits.
 */
export class CtlExit extends Error {
  override name = 'CtlExit';
  constructor(
    readonly code: number,
    readonly errorText?: string,
  ) {
    super(errorText ?? `exit ${code}`);
  }
}

export interface Io {
  out(data: string | Uint8Array): void;
  err(data: string | Uint8Array): void;
  /** all of standard input, as bytes */
  readStdin(): Promise<Buffer>;
  /** the environment in the process's own order */
  readonly env: ReadonlyArray<readonly [string, string]>;
}

export class ProcessIo implements Io {
  readonly env: ReadonlyArray<readonly [string, string]>;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.env = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined);
    // a reader that went away (`| head`): Go programs die of SIGPIPE, which shells report as 141
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 141 : ExitCode.IO));
    }
  }

  // text holding an argument's raw bytes (see argv.ts) is written as those bytes
  out(data: string | Uint8Array): void {
    process.stdout.write(typeof data === 'string' ? stringBytes(data) : data);
  }

  err(data: string | Uint8Array): void {
    process.stderr.write(typeof data === 'string' ? stringBytes(data) : data);
  }

  readStdin(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      process.stdin.on('data', (c: Buffer) => chunks.push(c));
      process.stdin.once('end', () => resolve(Buffer.concat(chunks)));
      process.stdin.once('error', (err: NodeJS.ErrnoException) => {
        // a closed or absent stdin reads as empty, as Go's ReadAll of /dev/null does
        if (err.code === 'EOF' || err.code === 'EBADF') resolve(Buffer.concat(chunks));
        else reject(err);
      });
    });
  }
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}

/** Runs main, prints an uncaught CtlExit as etcdctl does, and exits once output is written. */
export async function runMain(main: () => Promise<void>, io: Io): Promise<never> {
  let code = 0;
  try {
    await main();
  } catch (err) {
    if (err instanceof CtlExit) {
      if (err.errorText !== undefined) io.err(`Error: ${err.errorText}\n`);
      code = err.code;
    } else {
      io.err(`Error: ${(err as Error)?.stack ?? String(err)}\n`);
      code = ExitCode.Error;
    }
  }
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
