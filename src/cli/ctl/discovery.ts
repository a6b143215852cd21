// --discovery-srv: the endpoints from DNS SRV records, as etcdctl 3.5 finds them
// (client/pkg/srv GetClient): `_etcd-client-ssl._tcp.<domain>` gives https:// URLs,
// `_etcd-client._tcp.<domain>` http:// ones (with --discovery-srv-name N the services
// are `_etcd-client-ssl-N` and `_etcd-client-N`); it fails only when both lookups
// fail. Targets keep the trailing dot Go's resolver returns ("https://m1.example.com.:2379").
// With --insecure-discovery=false, http:// endpoints are dropped with a notice on
// stderr. Found endpoints replace --endpoints; none found leaves --endpoints.
import dns from 'node:dns';
import type { FlagSet } from './flags.js';
import { flagToEnv } from './global.js';
import type { Io } from './io.js';

/** Go's net.DNSError text for a failed SRV lookup. */
function lookupError(name: string, err: NodeJS.ErrnoException, resolver: dns.promises.Resolver): string {
  const server = resolver.getServers()[0] ?? '127.0.0.1';
  const withPort = /^\[.*\]:\d+$|^[^:]+:\d+$/.test(server) ? server : server.includes(':') ? `[${server}]:53` : `${server}:53`;
  const reason = err.code === 'ENOTFOUND' || err.code === 'ENODATA' || err.code === 'NOTFOUND' || err.code === 'NODATA' ? 'no such host' : err.message;
  return `lookup ${name} on ${withPort}: ${reason}`;
}

/** The SRV service name for a scheme (srv.GetSRVService). */
export function srvService(serviceName: string, scheme: 'https' | 'http'): string {
  const base = scheme === 'https' ? 'etcd-client-ssl' : 'etcd-client';
  return serviceName !== '' ? `${base}-${serviceName}` : base;
}

/** The endpoints the domain's SRV records name; throws with etcdctl's message when none can be looked up. */
export async function srvEndpoints(domain: string, serviceName: string, resolver: dns.promises.Resolver = new dns.promises.Resolver()): Promise<string[]> {
  const urls: string[] = [];
  const errors: string[] = [];
  for (const scheme of ['https', 'http'] as const) {
    const name = `_${srvService(serviceName, scheme)}._tcp.${domain}`;
    try {
      const records = await resolver.resolveSrv(name);
      // Go orders by priority, then picks by weight; ties keep the answer's order
      records.sort((a, b) => a.priority - b.priority);
      for (const r of records) {
        const host = r.name.endsWith('.') ? r.name : `${r.name}.`;
        urls.push(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${r.port}`);
      }
    } catch (err) {
      errors.push(lookupError(name, err as NodeJS.ErrnoException, resolver));
    }
  }
  if (errors.length === 2) throw new Error(`dns lookup errors: ${errors[0]} and ${errors[1]}`);
  return urls;
}

/** A flag's value, or that of its ETCDCTL_* variable when the flag was not given. */
function flagOrEnv(flags: FlagSet, io: Io, name: string): string {
  const f = flags.get(name);
  if (f.changed) return f.string;
  const env = io.env.find(([k]) => k === flagToEnv(name))?.[1];
  return env !== undefined && env !== '' ? env : f.string;
}

/**
 * The endpoints --discovery-srv finds, with insecure ones dropped unless
 * --insecure-discovery; undefined without --discovery-srv.
 */
export async function discoverEndpoints(flags: FlagSet, io: Io): Promise<string[] | undefined> {
  if (!flags.has('discovery-srv')) return undefined;
  const domain = flagOrEnv(flags, io, 'discovery-srv');
  if (domain === '') return undefined;
  const found = await srvEndpoints(domain, flagOrEnv(flags, io, 'discovery-srv-name'));
  const insecureOk = flagOrEnv(flags, io, 'insecure-discovery') !== 'false';
  if (insecureOk) return found;
  return found.filter((ep) => {
    if (!ep.startsWith('http://')) return true;
    io.err(`ignoring discovered insecure endpoint "${ep}"\n`);
    return false;
  });
}
