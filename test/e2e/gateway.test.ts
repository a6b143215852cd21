// `tsetcd gateway start`, etcd's L4 gateway, with real etcdctl: requests through the
// gateway reach a 3-member cluster; with one member killed every request still succeeds
// (the dead endpoint is deactivated with etcd's log line and skipped); endpoints can come
// from DNS SRV (`_etcd-client._tcp.<domain>`, from a fake DNS server on loopback); and an
// endpoint that would loop back to the gateway is refused with etcd's message.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { Cluster, eventually } from './cluster.js';
import { etcdctl, freePort, TSETCD_BIN } from './harness.js';
import { startFakeDns, type FakeDns } from '../helpers/fake-dns.js';

interface Gateway {
  proc: ChildProcess;
  addr: string;
  log: () => string;
  exited: Promise<number | null>;
}

async function startGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Gateway> {
  const proc = spawn(TSETCD_BIN, ['gateway', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const addr = /--listen-addr=(\S+)/.exec(args.join(' '))?.[1] ?? '127.0.0.1:23790';
  return { proc, addr, log: () => out, exited };
}

async function ready(g: Gateway): Promise<void> {
  await eventually('the gateway is ready', 20_000, async () => (g.log().includes('ready to proxy client requests') ? true : undefined));
}

describe('tsetcd gateway', () => {
  let c: Cluster | undefined;
  let dns: FakeDns | undefined;
  const gateways: Gateway[] = [];
  after(async () => {
    for (const g of gateways) g.proc.kill('SIGKILL');
    await dns?.close();
    await c?.destroy();
  });

  it('proxies etcdctl to the cluster, and goes on with one member killed', async () => {
    c = await Cluster.start();
    const g = await startGateway([`--endpoints=${c.members.map((m) => m.clientUrl).join(',')}`, `--listen-addr=127.0.0.1:${await freePort()}`, 'start']);
    gateways.push(g);
    await ready(g);
    assert.match(g.log(), /"msg":"ready to proxy client requests","endpoints":\["127\.0\.0\.1:\d+","127\.0\.0\.1:\d+","127\.0\.0\.1:\d+"\]/);
    const put = await etcdctl(g.addr, ['put', 'foo', 'bar']);
    assert.equal(put.stdout, 'OK\n', put.stderr);

    const victim = c.members[1]!;
    await c.kill(victim);
    // round robin: six calls reach every endpoint twice over, the dead one included
    for (let i = 0; i < 6; i++) {
      const get = await etcdctl(g.addr, ['get', 'foo', '--print-value-only']);
      assert.equal(get.stdout, 'bar\n', get.stderr);
    }
    assert.match(g.log(), new RegExp(`"msg":"deactivated endpoint","address":"${victim.clientUrl.replace('http://', '')}"`));
  });

  it('finds the endpoints through DNS SRV records', async () => {
    assert.ok(c, 'the cluster of the first test');
    const live = c.members.filter((m) => m.running);
    dns = await startFakeDns({
      srv: { '_etcd-client-gw1._tcp.example.test': live.map((m) => ({ target: 'localhost', port: Number(new URL(m.clientUrl).port) })) },
    });
    const g = await startGateway(
      ['start', '--discovery-srv=example.test', '--discovery-srv-name=gw1', '--insecure-discovery', `--listen-addr=127.0.0.1:${await freePort()}`],
      { TSETCD_DNS_SERVERS: dns.server },
    );
    gateways.push(g);
    await ready(g);
    assert.match(g.log(), /"msg":"discovered cluster from SRV","srv-server":"example.test","endpoints":\["http:\/\/localhost\.:\d+","http:\/\/localhost\.:\d+"\]/);
    assert.ok(dns.asked.includes('SRV _etcd-client-ssl-gw1._tcp.example.test'), dns.asked.join(', '));
    const get = await etcdctl(g.addr, ['get', 'foo', '--print-value-only']);
    assert.equal(get.stdout, 'bar\n', get.stderr);
  });

  it('refuses an endpoint that is its own listen address, and a bad endpoint', async () => {
    const port = await freePort();
    const loop = await startGateway([`--endpoints=127.0.0.1:${port}`, `--listen-addr=127.0.0.1:${port}`, 'start']);
    assert.equal(await loop.exited, 1);
    assert.match(loop.log(), new RegExp(`SRV or endpoint \\(127\\.0\\.0\\.1:${port}->127\\.0\\.0\\.1:${port}\\) should not resolve to the gateway listen addr \\(127\\.0\\.0\\.1:${port}\\)`));
    const bad = await startGateway(['--endpoints=nohostport', 'start']);
    assert.equal(await bad.exited, 1);
    assert.match(bad.log(), /error parsing endpoint "nohostport"/);
  });
});
