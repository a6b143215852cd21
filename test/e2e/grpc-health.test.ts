// grpc.health.v1.Health as etcd serves it on the client port: Check says SERVING for the
// whole server ("") and NotFound "unknown service" for other names, like real etcd; with
// --experimental-stop-grpc-service-on-defrag a Watch sees NOT_SERVING while a
// defragmentation runs and SERVING again after it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openStream, UnaryClient } from '../../src/client/unary-client.js';
import { GrpcError } from '../../src/api/grpc/status.js';
import { HealthCheckRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus as Status } from '../../src/proto/grpc_health_v1.js';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, waitUntil } from './harness.js';

async function checks(bin: string): Promise<{ all: string; other: string }> {
  const { dir, cleanup } = tempDir();
  const m = await startMember({ bin, dataDir: path.join(dir, 'd'), ports: await freePorts() });
  const c = new UnaryClient(m.clientUrl);
  try {
    const ask = async (service: string) => {
      try {
        const bytes = await c.call('/grpc.health.v1.Health/Check', HealthCheckRequest.encode({ service }), { timeoutMs: 5000 });
        return Status[HealthCheckResponse.decode(bytes).status]!;
      } catch (err) {
        return `${(err as GrpcError).code} ${(err as GrpcError).message}`;
      }
    };
    return { all: await ask(''), other: await ask('etcdserverpb.KV') };
  } finally {
    c.close();
    await m.kill();
    cleanup();
  }
}

describe('grpc.health.v1.Health', () => {
  it('answers Check as etcd does', { skip: !haveBinary('etcd') && 'needs etcd' }, async () => {
    const ours = await checks(TSETCD_BIN);
    assert.deepEqual(ours, { all: 'SERVING', other: '5 unknown service' });
    assert.deepEqual(ours, await checks('etcd'));
  });

  it('reports NOT_SERVING during a defragmentation with --experimental-stop-grpc-service-on-defrag', async () => {
    const { dir, cleanup } = tempDir();
    const m = await startMember({ bin: TSETCD_BIN, dataDir: path.join(dir, 'd'), ports: await freePorts(), extraArgs: ['--experimental-stop-grpc-service-on-defrag'] });
    const seen: string[] = [];
    const watch = openStream(m.clientUrl, '/grpc.health.v1.Health/Watch');
    watch.onMessage = (bytes) => seen.push(Status[HealthCheckResponse.decode(bytes).status]!);
    try {
      watch.send(HealthCheckRequest.encode({ service: '' }));
      await waitUntil(async () => seen.length === 1);
      const defrag = await etcdctl(m.clientUrl, ['defrag']);
      assert.equal(defrag.code, 0, defrag.stderr);
      await waitUntil(async () => seen.length === 3);
      assert.deepEqual(seen, ['SERVING', 'NOT_SERVING', 'SERVING']);
    } finally {
      watch.cancel();
      await m.kill();
      cleanup();
    }
  });
});
