// The initial cluster of a member bootstrapped through discovery, worked out before the
// member starts (only when it has no WAL yet, as etcd does): --discovery-srv through DNS
// SRV records (discovery-srv.ts), --discovery through a v2 discovery service
// (discovery-v2.ts, whose URL then is the cluster token). A full discovery cluster with
// --discovery-fallback=proxy would make etcd run as a v2 proxy, which tsetcd has not:
// it says so and stops.
import type { Logger } from '../pkg/logger.js';
import { dnsResolver, lookupAll } from '../pkg/dns.js';
import { memberIdFor } from '../server/ids.js';
import { srvInitialCluster } from './discovery-srv.js';
import { ERR_FULL_CLUSTER, V2Discovery } from './discovery-v2.js';
import { parseUrlsMap, toWhatwgUrl } from './urls.js';
import type { Config } from './types.js';

export const V2_PROXY_FALLBACK_REFUSAL =
  'discovery cluster full, falling back to proxy: the v2 proxy is not supported by tsetcd; start this member with --discovery-fallback=exit, or add it to the running cluster with `member add` and --initial-cluster-state=existing';

function withCluster(config: Config, raw: string, token = config.initialClusterToken): Config {
  const parsed = parseUrlsMap(raw);
  if (!parsed.ok) throw new Error(`error setting up initial cluster: ${parsed.message}`);
  const initialCluster = new Map([...parsed.members].map(([n, us]) => [n, us.map((u) => toWhatwgUrl(u.text))]));
  const values = new Map(config.values);
  values.set('initial-cluster', raw);
  values.set('initial-cluster-token', token);
  return { ...config, initialClusterRaw: raw, initialCluster, initialClusterToken: token, values };
}

/** The config with the discovered --initial-cluster, or the config unchanged without discovery. Throws with etcd's messages. */
export async function discoverInitialCluster(config: Config, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const peerUrls = config.values.get('initial-advertise-peer-urls') as readonly string[];
  const domain = config.values.get('discovery-srv') as string;
  if (domain !== '') {
    const raw = await srvInitialCluster({
      domain,
      serviceName: config.values.get('discovery-srv-name') as string,
      name: config.name,
      advertisePeerUrls: peerUrls,
      resolver: dnsResolver(env),
      lookup: lookupAll,
      logger,
    });
    return withCluster(config, raw);
  }
  const durl = config.values.get('discovery') as string;
  if (durl === '' || config.initialClusterState !== 'new') return config;
  const memberIdHex = memberIdFor([...peerUrls], durl).toString(16);
  const discovery = new V2Discovery({
    url: durl,
    proxyUrl: config.values.get('discovery-proxy') as string,
    memberIdHex,
    self: peerUrls.map((u) => `${config.name}=${u}`).join(','),
    logger,
  });
  if (config.values.get('discovery-proxy') !== '') logger.info('running proxy with discovery', { 'proxy-url': config.values.get('discovery-proxy') });
  try {
    return withCluster(config, await discovery.join(), durl);
  } catch (err) {
    if ((err as Error).message === ERR_FULL_CLUSTER && config.values.get('discovery-fallback') === 'proxy') throw new Error(V2_PROXY_FALLBACK_REFUSAL);
    throw err;
  }
}
