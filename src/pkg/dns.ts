// The DNS resolver for SRV discovery (--discovery-srv of the member and of the gateway).
// By default it asks the system's name servers (/etc/resolv.conf). TSETCD_DNS_SERVERS
// (comma-separated "ip" or "ip:port") points it elsewhere without touching the system's
// configuration: a split-horizon server for discovery only, or a test's server on loopback.
import dns from 'node:dns';
import net from 'node:net';

export const DNS_SERVERS_ENV = 'TSETCD_DNS_SERVERS';

export function dnsResolver(env: NodeJS.ProcessEnv = process.env): dns.promises.Resolver {
  const r = new dns.promises.Resolver();
  const servers = (env[DNS_SERVERS_ENV] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (servers.length > 0) r.setServers(servers);
  return r;
}

/** Every address a host name resolves to through the system (IP literals as they are). */
export async function lookupAll(host: string): Promise<string[]> {
  const h = host.endsWith('.') ? host.slice(0, -1) : host;
  if (net.isIP(h)) return [h];
  const found = await dns.promises.lookup(h, { all: true });
  return found.map((a) => a.address);
}
