// Bootstrapping through discovery instead of --initial-cluster, as etcd does it:
//  - --discovery-srv: three members find each other in `_etcd-server-<name>._tcp` SRV
//    records served by a fake DNS server on loopback (TSETCD_DNS_SERVERS), and form one
//    cluster whose members carry the advertised names and URLs;
//  - --discovery: three members register with a fake v2 discovery service (one through
//    --discovery-proxy) and form one cluster; a fourth finds the cluster full and stops,
//    with etcd's error under --discovery-fallback=exit and a sentence naming the missing
//    v2 proxy under the default fallback.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Cluster, type ClusterMember } from './cluster.js';
import { startFakeDns, type FakeDns } from '../helpers/fake-dns.js';

async function spawnAll(c: Cluster, names: string[], args: (m: ClusterMember) => string[], env: NodeJS.ProcessEnv = {}): Promise<ClusterMember[]> {
  const members: ClusterMember[] = [];
  for (const n of names) {
    const m = await c.newMember(n);
    c.members.push(m);
    members.push(m);
  }
  for (const m of members) {
    m.args = [...c.baseArgs(m), ...args(m)];
    m.env = env;
    c.spawn(m);
  }
  await Promise.all(members.map((m) => c.waitHealthy(m)));
  return members;
}

describe('--discovery-srv', () => {
  let c: Cluster | undefined;
  let dns: FakeDns | undefined;
  after(async () => {
    await c?.destroy();
    await dns?.close();
  });

  it('forms the cluster from SRV records', async () => {
    c = Cluster.empty();
    const ports = new Map<string, number>();
    const records: { target: string; port: number }[] = [];
    dns = await startFakeDns({ srv: { '_etcd-server-dc1._tcp.example.test': records } });
    const members = await (async () => {
      for (const n of ['d1', 'd2', 'd3']) {
        const m = await c!.newMember(n);
        ports.set(n, Number(new URL(m.peerUrl).port));
        records.push({ target: 'localhost', port: ports.get(n)! });
        c!.members.push(m);
      }
      for (const m of c!.members) {
        m.args = [...c!.baseArgs(m), `--initial-advertise-peer-urls=http://localhost:${ports.get(m.name)}`, '--discovery-srv=example.test', '--discovery-srv-name=dc1'];
        m.env = { TSETCD_DNS_SERVERS: dns!.server };
        c!.spawn(m);
      }
      await Promise.all(c!.members.map((m) => c!.waitHealthy(m)));
      return c!.members;
    })();
    const list = await c.memberList(members[0]!, true);
    assert.deepEqual(list.map((m) => `${m.name}=${m.peerURLs.join(',')}`).sort(), ['d1', 'd2', 'd3'].map((n) => `${n}=http://localhost:${ports.get(n)}`));
    assert.ok(dns.asked.includes('SRV _etcd-server-ssl-dc1._tcp.example.test'), dns.asked.join(', '));
    assert.match(members[0]!.log(), /"msg":"got bootstrap from DNS for etcd-server","node":"d1=http:\/\/localhost:\d+"/);
  });
});

/** A v2 discovery service for one token, as etcd's discovery.etcd.io answers (keys API without /v2/keys). */
async function fakeDiscovery(token: string, size: number): Promise<{ url: string; server: http.Server; absoluteRequests: () => number }> {
  const nodes: { key: string; value: string; createdIndex: number }[] = [];
  const waiting: { after: number; res: http.ServerResponse }[] = [];
  let index = 10;
  let absolute = 0;
  const reply = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Etcd-Index': String(index) });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    if (req.url!.startsWith('http://')) absolute++; // arrived through --discovery-proxy
    const u = new URL(req.url!, 'http://x');
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const base = `/${token}`;
      if (u.pathname === `${base}/_config/size`) return reply(res, 200, { action: 'get', node: { key: `/_etcd/registry${base}/_config/size`, value: String(size) } });
      if (req.method === 'PUT' && u.pathname.startsWith(`${base}/`)) {
        const key = `/_etcd/registry${u.pathname}`;
        if (nodes.some((n) => n.key === key)) return reply(res, 412, { errorCode: 105, message: 'Key already exists', cause: key, index });
        const node = { key, value: new URLSearchParams(body).get('value') ?? '', createdIndex: ++index };
        nodes.push(node);
        for (const w of waiting.splice(0)) reply(w.res, 200, { action: 'create', node });
        return reply(res, 201, { action: 'create', node });
      }
      if (u.pathname === base && u.searchParams.get('wait') === 'true') {
        const after = Number(u.searchParams.get('waitIndex')) - 1;
        const next = nodes.find((n) => n.createdIndex > after);
        if (next) return reply(res, 200, { action: 'create', node: next });
        waiting.push({ after, res });
        return;
      }
      if (u.pathname === base) return reply(res, 200, { action: 'get', node: { key: `/_etcd/registry${base}`, dir: true, nodes } });
      reply(res, 404, { errorCode: 100, message: 'Key not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server, absoluteRequests: () => absolute };
}

describe('--discovery', () => {
  let c: Cluster | undefined;
  let disc: Awaited<ReturnType<typeof fakeDiscovery>> | undefined;
  after(async () => {
    await c?.destroy();
    disc?.server.closeAllConnections();
    disc?.server.close();
  });

  it('forms the cluster through a v2 discovery service, and a member too many stops', async () => {
    disc = await fakeDiscovery('6c007a14875d53d9bf0ef5a6fc0257c817f0fb83', 3);
    const durl = `${disc.url}/6c007a14875d53d9bf0ef5a6fc0257c817f0fb83`;
    c = Cluster.empty();
    const members = await spawnAll(c, ['v1', 'v2', 'v3'], (m) => [
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--discovery=${durl}`,
      ...(m.name === 'v3' ? [`--discovery-proxy=${disc!.url}`] : []),
    ]);
    const list = await c.memberList(members[0]!, true);
    assert.deepEqual(list.map((m) => m.name).sort(), ['v1', 'v2', 'v3']);
    assert.ok(disc.absoluteRequests() > 0, 'v3 reached the service through the proxy');
    assert.match(members[0]!.log(), /"msg":"found all needed peers from discovery server"/);

    for (const [fallback, expected] of [
      ['exit', /tsetcd: discovery: cluster is full/],
      ['proxy', /discovery cluster full, falling back to proxy: the v2 proxy is not supported by tsetcd/],
    ] as const) {
      const extra = await c.newMember(`x-${fallback}`);
      extra.args = [...c.baseArgs(extra), `--initial-advertise-peer-urls=${extra.peerUrl}`, `--discovery=${durl}`, `--discovery-fallback=${fallback}`];
      c.members.push(extra);
      c.spawn(extra);
      assert.equal(await extra.exited, 1);
      assert.match(extra.log(), expected);
    }
  });
});
