// Fills a member with `count` random values of `valueBytes` through Put, with `writers`
// requests in flight: the large databases of the snapshot test and benchmark.
import crypto from 'node:crypto';
import { UnaryClient } from '../../src/client/unary-client.js';
import { PutRequest } from '../../src/proto/etcdserverpb.js';

export async function putRandomValues(endpoint: string, o: { count: number; valueBytes: number; writers: number; keyPrefix: string }): Promise<void> {
  const c = new UnaryClient(endpoint);
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < o.count) {
      const i = next++;
      const req = PutRequest.create({ key: Buffer.from(`${o.keyPrefix}${String(i).padStart(8, '0')}`), value: crypto.randomBytes(o.valueBytes) });
      await c.call('/etcdserverpb.KV/Put', PutRequest.encode(req), { timeoutMs: 60_000 });
    }
  };
  try {
    await Promise.all(Array.from({ length: o.writers }, writer));
  } finally {
    c.close();
  }
}
