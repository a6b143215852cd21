// Standard input read one line at a time as it arrives (bufio.Reader.ReadString('\n')),
// for the commands that read requests interactively: txn and watch -i. A line that
// ends without a newline at end of input is reported with `eof` set, as Go returns the
// partial line together with io.EOF.

export interface StdinLine {
  /** the line, including its newline if it had one, decoded as UTF-8 */
  text: string;
  /** end of input was reached before a newline */
  eof: boolean;
}

export class StdinLines {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private waiting: (() => void) | undefined;

  constructor(private readonly stream: NodeJS.ReadableStream = process.stdin) {
    stream.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    const finish = (): void => {
      this.ended = true;
      this.wake();
    };
    stream.once('end', finish);
    // a closed or absent standard input reads as empty
    stream.once('error', finish);
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  async readLine(): Promise<StdinLine> {
    for (;;) {
      const nl = this.buffered.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buffered.subarray(0, nl + 1);
        this.buffered = this.buffered.subarray(nl + 1);
        return { text: line.toString('utf8'), eof: false };
      }
      if (this.ended) {
        const rest = this.buffered;
        this.buffered = Buffer.alloc(0);
        return { text: rest.toString('utf8'), eof: true };
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** Stops reading so the process can exit while input is still open. */
  close(): void {
    this.stream.pause();
    (this.stream as NodeJS.ReadStream).unref?.();
  }
}
