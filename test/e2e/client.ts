// Typed helpers over the minimal unary client, for tests that need many fast requests.
import { UnaryClient } from '../../src/client/unary-client.js';
import { PutRequest, PutResponse, RangeRequest, RangeResponse } from '../../src/proto/etcdserverpb.js';

export class KvClient {
  private readonly c: UnaryClient;

  constructor(endpoint: string) {
    this.c = new UnaryClient(endpoint);
  }

  async put(key: string, value: string): Promise<PutResponse> {
    const req = PutRequest.create({ key: Buffer.from(key), value: Buffer.from(value) });
    return PutResponse.decode(await this.c.call('/etcdserverpb.KV/Put', PutRequest.encode(req), { timeoutMs: 5000 }));
  }

  async get(key: string, opts: Partial<RangeRequest> = {}): Promise<RangeResponse> {
    const req = RangeRequest.create({ key: Buffer.from(key), ...opts });
    return RangeResponse.decode(await this.c.call('/etcdserverpb.KV/Range', RangeRequest.encode(req), { timeoutMs: 5000 }));
  }

  close(): void {
    this.c.close();
  }
}
