// `tsetcd gateway start`: etcd's L4 endpoint gateway (etcdmain/gateway.go), with its
// flags, defaults and messages. Endpoints come from --discovery-srv (the domain's
// `_etcd-client-ssl._tcp` / `_etcd-client._tcp` SRV records, with the -<name> suffix of
// --discovery-srv-name) or else from --endpoints; URLs lose their scheme, since only TCP
// is proxied. An endpoint that would loop back to the gateway's own listen address is
// refused. The gateway logs etcd's JSON lines ("ready to proxy client requests", ...).
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { Flag, FlagError, FlagSet } from '../cli/ctl/flags.js';
import { srvEndpoints } from '../cli/ctl/discovery.js';
import { createLogger, type Logger } from '../pkg/logger.js';
import { dnsResolver, lookupAll } from '../pkg/dns.js';
import { TcpProxy, type ProxyEndpoint } from './tcp-proxy.js';

/** how long a discovered https endpoint may take to complete a TLS handshake when validated */
const VALIDATE_TIMEOUT_MS = 5_000;
const NS_PER_MS = 1_000_000n;

function gatewayFlags(): FlagSet {
  return new FlagSet([
    new Flag({ name: 'listen-addr', kind: 'string', def: '127.0.0.1:23790', usage: 'listen address' }),
    new Flag({ name: 'discovery-srv', kind: 'string', def: '', usage: 'DNS domain used to bootstrap initial cluster' }),
    new Flag({ name: 'discovery-srv-name', kind: 'string', def: '', usage: 'service name to query when using DNS discovery' }),
    new Flag({ name: 'insecure-discovery', kind: 'bool', def: 'false', usage: 'accept insecure SRV records' }),
    new Flag({ name: 'trusted-ca-file', kind: 'string', def: '', usage: 'path to the client server TLS CA file for verifying the discovered endpoints when discovery-srv is provided.' }),
    new Flag({ name: 'endpoints', kind: 'stringSlice', def: '127.0.0.1:2379', usage: 'comma separated etcd cluster endpoints' }),
    new Flag({ name: 'retry-delay', kind: 'duration', def: '1m0s', usage: 'duration of delay before retrying failed endpoints' }),
  ]);
}

export function gatewayUsage(): string {
  const lines = gatewayFlags()
    .sorted()
    .map((f) => `      --${f.spec.name} ${f.spec.kind === 'bool' ? '' : (f.spec.kind === 'stringSlice' ? 'strings' : f.spec.kind) + ' '}  ${f.spec.usage}${f.spec.def !== '' && f.spec.def !== 'false' ? ` (default "${f.spec.def}")` : ''}`);
  return `start the gateway\n\nUsage:\n  tsetcd gateway start [flags]\n\nFlags:\n${lines.join('\n')}\n  -h, --help   help for start\n`;
}

/** "https://host:port" → "host:port" (etcd's stripSchema). */
function stripScheme(ep: string): string {
  try {
    const u = new URL(ep);
    if (u.host !== '' && /^[a-z][a-z0-9+.-]*:\/\//i.test(ep)) return u.host;
  } catch {
    /* not a URL: kept as written */
  }
  return ep;
}

function splitHostPort(ep: string): ProxyEndpoint | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(ep) ?? /^([^:]*):(\d+)$/.exec(ep);
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: m[1]!.replace(/\.$/, ''), port: Number(m[2]) };
}

/** etcd dials each discovered https endpoint with the CA; http ones are insecure. Logged only, as etcd 3.4 does. */
async function validateSecure(domain: string, caFile: string, endpoints: string[], logger: Logger): Promise<void> {
  logger.info('validating discovered SRV endpoints', { 'srv-server': domain, endpoints });
  const ca = caFile !== '' ? readFileSync(caFile) : undefined;
  const problems: string[] = [];
  const good: string[] = [];
  for (const ep of endpoints) {
    if (ep.startsWith('http://')) {
      problems.push(`"${ep}" is insecure`);
      continue;
    }
    const hp = splitHostPort(stripScheme(ep))!;
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tls.connect({ host: hp.host, port: hp.port, ca, servername: domain, timeout: VALIDATE_TIMEOUT_MS }, () => {
        s.destroy();
        resolve(undefined);
      });
      s.on('error', resolve);
      s.on('timeout', () => s.destroy(new Error('i/o timeout')));
    });
    if (err) problems.push(`"${ep}" failed to dial (${err.message})`);
    else good.push(ep);
  }
  if (problems.length > 0) {
    logger.warn('failed to validate discovered endpoints', { 'srv-server': domain, endpoints: good, error: problems.join(', ') });
  } else {
    logger.info('using validated discovered SRV endpoints', { 'srv-server': domain, endpoints: good });
  }
}

export type GatewayOutcome = { ok: true; proxy: TcpProxy; server: net.Server } | { ok: false; code: number; message: string };

/** Parses `gateway ...` arguments and starts the gateway (the caller keeps the process alive). */
export async function startGateway(args: readonly string[], logger: Logger = createLogger()): Promise<GatewayOutcome | 'help'> {
  if (args.includes('-h') || args.includes('--help')) return 'help';
  const flags = gatewayFlags();
  let positional: string[];
  try {
    positional = flags.parse(args);
  } catch (err) {
    if (err instanceof FlagError) return { ok: false, code: 1, message: `Error: ${err.message}\n${gatewayUsage()}` };
    throw err;
  }
  if (positional[0] !== 'start') return 'help';

  let endpoints: string[] = [];
  const domain = flags.get('discovery-srv').string;
  if (domain !== '') {
    try {
      endpoints = await srvEndpoints(domain, flags.get('discovery-srv-name').string, dnsResolver());
    } catch (err) {
      return { ok: false, code: 1, message: (err as Error).message };
    }
    logger.info('discovered cluster from SRV', { 'srv-server': domain, endpoints });
    if (!flags.get('insecure-discovery').bool) await validateSecure(domain, flags.get('trusted-ca-file').string, endpoints, logger);
  }
  if (endpoints.length === 0) endpoints = flags.get('endpoints').strings;
  const targets: ProxyEndpoint[] = [];
  for (const ep of endpoints.map(stripScheme)) {
    const hp = splitHostPort(ep);
    if (!hp) return { ok: false, code: 1, message: `error parsing endpoint "${ep}"` };
    targets.push(hp);
  }
  const listenAddr = flags.get('listen-addr').string;
  const listen = splitHostPort(listenAddr);
  if (!listen) return { ok: false, code: 1, message: `failed to validate listen address: ${listenAddr}` };
  const loop = await loopProblem(listen, listenAddr, targets);
  if (loop !== undefined) return { ok: false, code: 1, message: loop };
  if (targets.length === 0) return { ok: false, code: 1, message: 'no endpoints found' };

  const server = net.createServer({ pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listen.host, port: listen.port }, () => resolve());
    });
  } catch (err) {
    return { ok: false, code: 1, message: `listen tcp ${listenAddr}: ${(err as Error).message}` };
  }
  const proxy = new TcpProxy(server, { endpoints: targets, monitorIntervalMs: Number(flags.get('retry-delay').duration / NS_PER_MS), logger });
  proxy.run();
  return { ok: true, proxy, server };
}

/** An endpoint on the listen port that resolves to a listen address would proxy to itself. */
async function loopProblem(listen: ProxyEndpoint, listenAddr: string, targets: ProxyEndpoint[]): Promise<string | undefined> {
  let own: string[];
  try {
    own = await lookupAll(listen.host);
  } catch {
    return `failed to resolve listen host: ${listen.host}`;
  }
  for (const t of targets) {
    let addrs: string[];
    try {
      addrs = await lookupAll(t.host);
    } catch {
      return `failed to resolve endpoint host: ${t.host}`;
    }
    if (t.port !== listen.port) continue;
    const hit = addrs.find((a) => own.includes(a));
    if (hit !== undefined) return `SRV or endpoint (${t.host}:${t.port}->${hit}:${t.port}) should not resolve to the gateway listen addr (${listenAddr})`;
  }
  return undefined;
}

/** The process side of `tsetcd gateway ...`: help, refusals with exit 1, shutdown on SIGINT/SIGTERM. */
export async function runGatewayMode(args: readonly string[]): Promise<void> {
  const logger = createLogger();
  const outcome = await startGateway(args, logger);
  if (outcome === 'help') {
    process.stdout.write(gatewayUsage());
    process.exit(0);
  }
  if (!outcome.ok) {
    process.stderr.write(outcome.message.endsWith('\n') ? outcome.message : outcome.message + '\n');
    process.exit(outcome.code);
  }
  const stop = (): void => {
    outcome.proxy.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
