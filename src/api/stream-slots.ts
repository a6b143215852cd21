// A counting semaphore for --max-concurrent-streams on the JSON gateway.
//
// Contract: at most `limit` holders at once; acquire() resolves, in arrival order, with a
// release function once a slot is free; releasing twice frees one slot only. etcd's
// gateway forwards every HTTP request over one gRPC connection to its own server, so
// together they never have more than --max-concurrent-streams calls open and the next
// one waits (curl times out) — this reproduces that without the loopback hop.
export class StreamSlots {
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        this.inUse++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.inUse--;
          this.waiting.shift()?.();
        });
      };
      if (this.inUse < this.limit) grant();
      else this.waiting.push(grant);
    });
  }

  get used(): number {
    return this.inUse;
  }
}
