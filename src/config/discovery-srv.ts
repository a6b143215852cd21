// --discovery-srv / --discovery-srv-name: the initial cluster from DNS SRV records, as
// etcd finds it (embed.Config.GetDNSClusterNames, pkg/srv.GetCluster):
//  - `_etcd-server-ssl<-name>._tcp.<domain>` gives https peers, `_etcd-server<-name>._tcp.
//    <domain>` http ones; the results of both are joined, and discovery fails only when
//    neither lookup works;
//  - a record whose target and port resolve to one of this member's advertised peer URLs
//    is named after this member; the others are named "0", "1", ... in answer order;
//  - a record matching this member with the other scheme is an error, and so is a result
//    without this member ("cannot find local etcd member ... in SRV records").
// The resolver is injected (src/pkg/dns.ts points it at TSETCD_DNS_SERVERS when set).
import type dns from 'node:dns';
import type { Logger } from '../pkg/logger.js';
import { goQuote } from './goparse.js';

export interface SrvDiscoveryInput {
  domain: string;
  serviceName: string;
  name: string;
  /** this member's advertised peer URLs */
  advertisePeerUrls: readonly string[];
  resolver: Pick<dns.promises.Resolver, 'resolveSrv'>;
  /** every address of a host name (IP literals as they are) */
  lookup: (host: string) => Promise<string[]>;
  logger: Logger;
}

function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function addrKeys(host: string, port: number | string, lookup: SrvDiscoveryInput['lookup']): Promise<string[]> {
  return (await lookup(host.replace(/^\[|\]$/g, ''))).map((a) => joinHostPort(a, port));
}

/** One service's members (srv.GetCluster); throws when the lookup itself fails. */
async function getCluster(scheme: 'https' | 'http', service: string, input: SrvDiscoveryInput, own: Map<string, URL>): Promise<string[]> {
  const records = await input.resolver.resolveSrv(`_${service}._tcp.${input.domain}`);
  const parts: string[] = [];
  let tempName = 0;
  let err: Error | undefined;
  for (const r of records) {
    const shortHost = r.name.replace(/\.$/, '');
    let keys: string[];
    try {
      keys = await addrKeys(shortHost, r.port, input.lookup);
    } catch (e) {
      err = e as Error;
      continue;
    }
    const mine = keys.map((k) => own.get(k)).find((u) => u !== undefined);
    const n = mine ? input.name : String(tempName++);
    const urlHost = joinHostPort(shortHost, r.port);
    if (mine && mine.protocol !== `${scheme}:`) {
      err = new Error(`bootstrap at ${scheme}://${urlHost} from DNS for ${service} has scheme mismatch with expected peer ${mine.href.replace(/\/$/, '')}`);
    } else {
      parts.push(`${n}=${scheme}://${urlHost}`);
    }
  }
  if (parts.length === 0 && err) throw err;
  return parts;
}

/** The --initial-cluster text SRV discovery finds; throws with etcd's messages. */
export async function srvInitialCluster(input: SrvDiscoveryInput): Promise<string> {
  const own = new Map<string, URL>();
  for (const text of input.advertisePeerUrls) {
    const u = new URL(text);
    for (const k of await addrKeys(u.hostname, u.port, input.lookup)) own.set(k, u);
  }
  const suffix = input.serviceName !== '' ? `-${input.serviceName}` : '';
  const found: string[] = [];
  const errors: string[] = [];
  for (const [scheme, service] of [['https', `etcd-server-ssl${suffix}`], ['http', `etcd-server${suffix}`]] as const) {
    let parts: string[] = [];
    let error: string | undefined;
    try {
      parts = await getCluster(scheme, service, input, own);
      found.push(...parts);
    } catch (e) {
      error = `error querying DNS SRV records for _${service} ${(e as Error).message}`;
      errors.push(error);
    }
    input.logger.info(`get cluster for ${service.replace(suffix, '')} SRV`, {
      'service-scheme': scheme,
      'service-name': service,
      'server-name': input.name,
      'discovery-srv': input.domain,
      'advertise-peer-urls': input.advertisePeerUrls,
      'found-cluster': [...found],
      ...(error ? { error } : {}),
    });
  }
  if (found.length === 0) {
    const error = errors.join('; ');
    input.logger.warn('failed to resolve during SRV discovery', { error });
    throw new Error(error);
  }
  for (const s of found) input.logger.info('got bootstrap from DNS for etcd-server', { node: s });
  if (!found.some((s) => s.startsWith(`${input.name}=`))) throw new Error(`cannot find local etcd member ${goQuote(input.name)} in SRV records`);
  return found.join(',');
}
