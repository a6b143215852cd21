// A Watch stream client for tests: sends WatchRequests, collects WatchResponses and
// waits for conditions on them.
import { openStream, type ClientStream } from '../../src/client/unary-client.js';
import { WatchCreateRequest, WatchRequest, WatchResponse } from '../../src/proto/etcdserverpb.js';

export class WatchClient {
  readonly responses: WatchResponse[] = [];
  private readonly stream: ClientStream;
  private waiters: Array<() => void> = [];
  /** called for each response as it arrives */
  onResponse: (r: WatchResponse) => void = () => {};

  constructor(endpoint: string) {
    this.stream = openStream(endpoint, '/etcdserverpb.Watch/Watch');
    this.stream.onMessage = (m) => {
      const r = WatchResponse.decode(m);
      this.responses.push(r);
      this.onResponse(r);
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    };
  }

  get done(): Promise<void> {
    return this.stream.done;
  }

  create(o: Omit<Partial<WatchCreateRequest>, 'key' | 'range_end'> & { key: Uint8Array | string; range_end?: Uint8Array | string }): void {
    const req = WatchCreateRequest.create({
      ...o,
      key: typeof o.key === 'string' ? Buffer.from(o.key) : o.key,
      range_end: typeof o.range_end === 'string' ? Buffer.from(o.range_end) : (o.range_end ?? new Uint8Array(0)),
    });
    this.send({ create_request: req, cancel_request: undefined, progress_request: undefined });
  }

  cancel(watchId: number): void {
    this.send({ create_request: undefined, cancel_request: { watch_id: watchId }, progress_request: undefined });
  }

  progress(): void {
    this.send({ create_request: undefined, cancel_request: undefined, progress_request: {} });
  }

  send(req: WatchRequest): void {
    this.stream.send(WatchRequest.encode(req));
  }

  /** Resolves once pred holds over the responses so far. */
  async waitFor(pred: (rs: WatchResponse[]) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.responses)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; ${this.responses.length} responses so far`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.stream.cancel();
  }
}

export function eventsOf(rs: WatchResponse[], watchId?: number): Array<{ type: number; key: string; value: string; rev: number; prev?: string }> {
  return rs
    .filter((r) => watchId === undefined || r.watch_id === watchId)
    .flatMap((r) =>
      r.events.map((e) => ({
        type: e.type,
        key: Buffer.from(e.kv!.key).toString(),
        value: Buffer.from(e.kv!.value).toString(),
        rev: e.kv!.mod_revision,
        ...(e.prev_kv ? { prev: Buffer.from(e.prev_kv.value).toString() } : {}),
      })),
    );
}
