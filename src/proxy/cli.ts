// `tsetcd grpc-proxy start [flags]`: parses etcd's flags, finds the endpoints (DNS SRV
// when --discovery-srv), starts the proxy and serves until SIGINT/SIGTERM. Errors are
// printed as etcd prints them (cobra's "Error: ..." and usage for flag mistakes, the bare
// sentence for etcd's own checks) with exit code 1.
import { createLogger } from '../pkg/logger.js';
import { srvEndpoints } from '../cli/ctl/discovery.js';
import { parseProxyArgs, startHelp, type ProxyConfig } from './flags.js';
import { startProxy } from './proxy.js';
import type { Logger } from '../pkg/logger.js';

function fail(text: string): never {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  process.exit(1);
}

/** etcd's discoverEndpoints: SRV records when asked, insecure ones only with --insecure-discovery. */
async function endpointsOf(config: ProxyConfig, logger: Logger): Promise<string[]> {
  if (config.discoverySrv === '') return config.endpoints;
  let found: string[];
  try {
    found = await srvEndpoints(config.discoverySrv, config.discoverySrvName);
  } catch (err) {
    logger.warn('failed to discover endpoints', { error: (err as Error).message });
    return config.endpoints;
  }
  const usable = found.filter((u) => config.insecureDiscovery || !u.startsWith('http://'));
  logger.info('discovered cluster from SRV', { 'srv-server': config.discoverySrv, endpoints: usable });
  return usable.length > 0 ? usable : config.endpoints;
}

/** Notes about flags whose etcd behaviour has no counterpart here, logged at start. */
function notices(config: ProxyConfig, logger: Logger): void {
  if (config.leasingPrefix) logger.warn('--experimental-leasing-prefix is accepted but reads are not served from leases; every linearizable read goes to the cluster');
  if (config.grpcLogging) logger.info('--experimental-enable-grpc-logging: each call is logged at debug level');
}

export async function grpcProxyMain(args: readonly string[]): Promise<void> {
  const parsed = parseProxyArgs(args);
  if (parsed.action === 'help') {
    process.stdout.write(parsed.text);
    process.exit(0);
  }
  if (parsed.action === 'error') fail(parsed.usage ? `Error: ${parsed.message}\n${startHelp()}` : parsed.message);
  const config = parsed.config;
  const logger = createLogger({ level: config.debug || config.grpcLogging ? 'debug' : 'info', outputs: ['stderr'] });
  notices(config, logger);
  let proxy;
  try {
    proxy = await startProxy(config, logger, await endpointsOf(config, logger));
  } catch (err) {
    fail((err as Error).message);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('received signal; shutting down', { signal });
    void proxy.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
