// `tsetcd grpc-proxy start` flags: etcd 3.5's set, names, defaults and help lines, parsed
// the way cobra/pflag parse them (--name=value or --name value, booleans without a value,
// string lists split on commas and appended when repeated), with pflag's error texts and
// etcd's own start-up checks (checkArgs). The result is a plain ProxyConfig; nothing here
// touches the network or the disk.
import { parseGoBool, parseGoDuration, parseGoInt, parseGoUint, type NumResult } from '../config/goparse.js';

type Kind = 'string' | 'strings' | 'bool' | 'int' | 'uint' | 'uint32' | 'duration';

interface FlagSpec {
  name: string;
  kind: Kind;
  /** the default as pflag prints it in --help (absent: no "(default ...)") */
  shownDefault?: string;
  usage: string;
}

const MAX_INT32 = 2 ** 31 - 1;
/** etcd's defaultGRPCMaxCallSendMsgSize: 1.5 MiB */
const DEFAULT_MAX_SEND_BYTES = 1.5 * 1024 * 1024;

// etcd 3.5's `grpc-proxy start` flags, in its --help order (alphabetical)
const FLAGS: FlagSpec[] = [
  { name: 'advertise-client-url', kind: 'string', shownDefault: '"127.0.0.1:23790"', usage: 'advertise address to register (must be reachable by client)' },
  { name: 'auto-tls', kind: 'bool', usage: 'proxy TLS using generated certificates' },
  { name: 'cacert', kind: 'string', usage: 'verify certificates of TLS-enabled secure etcd servers using this CA bundle' },
  { name: 'cert', kind: 'string', usage: 'identify secure connections with etcd servers using this TLS certificate file' },
  { name: 'cert-file', kind: 'string', usage: 'identify secure connections to the proxy using this TLS certificate file' },
  { name: 'client-crl-file', kind: 'string', usage: 'proxy client certificate revocation list file.' },
  { name: 'data-dir', kind: 'string', shownDefault: '"default.proxy"', usage: 'Data directory for persistent data' },
  { name: 'debug', kind: 'bool', usage: 'Enable debug-level logging for grpc-proxy.' },
  { name: 'dial-keepalive-time', kind: 'duration', usage: 'keepalive time for client(grpc-proxy) connections (default 0, disable).' },
  { name: 'dial-keepalive-timeout', kind: 'duration', shownDefault: '20s', usage: 'keepalive timeout for client(grpc-proxy) connections (default 20s).' },
  { name: 'discovery-srv', kind: 'string', usage: 'domain name to query for SRV records describing cluster endpoints' },
  { name: 'discovery-srv-name', kind: 'string', usage: 'service name to query when using DNS discovery' },
  { name: 'enable-pprof', kind: 'bool', usage: 'Enable runtime profiling data via HTTP server. Address is at client URL + "/debug/pprof/" (V8 CPU and heap profiles in pprof format)' },
  { name: 'endpoints', kind: 'strings', shownDefault: '[127.0.0.1:2379]', usage: 'comma separated etcd cluster endpoints' },
  { name: 'endpoints-auto-sync-interval', kind: 'duration', usage: 'etcd endpoints auto sync interval (disabled by default)' },
  { name: 'experimental-enable-grpc-logging', kind: 'bool', usage: 'logging all grpc requests and responses' },
  { name: 'experimental-leasing-prefix', kind: 'string', usage: 'leasing metadata prefix for disconnected linearized reads.' },
  { name: 'experimental-serializable-ordering', kind: 'bool', usage: 'Ensure serializable reads have monotonically increasing store revisions across endpoints.' },
  { name: 'grpc-keepalive-interval', kind: 'duration', shownDefault: '2h0m0s', usage: 'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).' },
  { name: 'grpc-keepalive-min-time', kind: 'duration', shownDefault: '5s', usage: 'Minimum interval duration that a client should wait before pinging proxy.' },
  { name: 'grpc-keepalive-timeout', kind: 'duration', shownDefault: '20s', usage: 'Additional duration of wait before closing a non-responsive connection (0 to disable).' },
  { name: 'insecure-discovery', kind: 'bool', usage: 'accept insecure SRV records' },
  { name: 'insecure-skip-tls-verify', kind: 'bool', usage: 'skip authentication of etcd server TLS certificates (CAUTION: this option should be enabled only for testing purposes)' },
  { name: 'key', kind: 'string', usage: 'identify secure connections with etcd servers using this TLS key file' },
  { name: 'key-file', kind: 'string', usage: 'identify secure connections to the proxy using this TLS key file' },
  { name: 'listen-addr', kind: 'string', shownDefault: '"127.0.0.1:23790"', usage: 'listen address' },
  { name: 'listen-cipher-suites', kind: 'strings', usage: 'Comma-separated list of supported TLS cipher suites between client/proxy (empty will be auto-populated by Go).' },
  { name: 'max-concurrent-streams', kind: 'uint32', shownDefault: '4294967295', usage: 'Maximum concurrent streams that each client can open at a time.' },
  { name: 'max-recv-bytes', kind: 'int', shownDefault: String(MAX_INT32), usage: 'message receive limits in bytes (default value is math.MaxInt32)' },
  { name: 'max-send-bytes', kind: 'int', shownDefault: String(DEFAULT_MAX_SEND_BYTES), usage: 'message send limits in bytes (default value is 1.5 MiB)' },
  { name: 'metrics-addr', kind: 'string', usage: 'listen for endpoint /metrics requests on an additional interface' },
  { name: 'namespace', kind: 'string', usage: 'string to prefix to all keys for namespacing requests' },
  { name: 'permit-without-stream', kind: 'bool', usage: 'Enable client(grpc-proxy) to send keepalive pings even with no active RPCs.' },
  { name: 'resolver-prefix', kind: 'string', usage: 'prefix to use for registering proxy (must be shared with other grpc-proxy members)' },
  { name: 'resolver-ttl', kind: 'int', usage: 'specify TTL, in seconds, when registering proxy endpoints' },
  { name: 'self-signed-cert-validity', kind: 'uint', shownDefault: '1', usage: 'The validity period of the proxy certificates, unit is year' },
  { name: 'tls-max-version', kind: 'string', usage: 'Maximum TLS version supported by grpc proxy. Possible values: TLS1.2, TLS1.3 (empty defers to Go).' },
  { name: 'tls-min-version', kind: 'string', shownDefault: '"TLS1.2"', usage: 'Minimum TLS version supported by grpc proxy. Possible values: TLS1.2, TLS1.3.' },
  { name: 'trusted-ca-file', kind: 'string', usage: 'verify certificates of TLS-enabled secure proxy using this CA bundle' },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

export interface ProxyConfig {
  endpoints: string[];
  listenAddr: string;
  advertiseClientUrl: string;
  resolverPrefix: string;
  resolverTtlSec: number;
  namespace: string;
  metricsAddr: string;
  dataDir: string;
  /** TLS towards the cluster (--cert, --key, --cacert, --insecure-skip-tls-verify) */
  upstreamTls: { cert: string; key: string; ca: string; insecureSkipVerify: boolean };
  /** TLS towards clients (--cert-file, --key-file, --trusted-ca-file, --auto-tls...) */
  serveTls: { certFile: string; keyFile: string; trustedCaFile: string; crlFile: string; autoTls: boolean; cipherSuites: string[]; minVersion: string; maxVersion: string; validityYears: number };
  maxSendBytes: number;
  maxRecvBytes: number;
  maxConcurrentStreams: number;
  keepalive: { minTimeMs: number; intervalMs: number; timeoutMs: number };
  enablePprof: boolean;
  debug: boolean;
  grpcLogging: boolean;
  serializableOrdering: boolean;
  leasingPrefix: string;
  discoverySrv: string;
  discoverySrvName: string;
  insecureDiscovery: boolean;
  endpointsAutoSyncIntervalMs: number;
  dialKeepaliveTimeMs: number;
  dialKeepaliveTimeoutMs: number;
  permitWithoutStream: boolean;
}

export type ParseOutcome =
  | { action: 'run'; config: ProxyConfig }
  | { action: 'help'; text: string }
  /** `usage`: cobra prints the command's usage after the error */
  | { action: 'error'; message: string; usage: boolean };

type Value = string | string[] | boolean | number;

/** The help text of `grpc-proxy start`, laid out as cobra prints it. */
export function startHelp(): string {
  const rows = FLAGS.map((f) => {
    const type = f.kind === 'bool' ? '' : ` ${f.kind === 'strings' ? 'strings' : f.kind}`;
    return { left: `      --${f.name}${type}`, right: f.usage + (f.shownDefault ? ` (default ${f.shownDefault})` : '') };
  });
  rows.splice(FLAGS.findIndex((f) => f.name > 'h'), 0, { left: '  -h, --help', right: 'help for start' });
  const width = Math.max(...rows.map((r) => r.left.length)) + 3;
  return `Usage:\n  tsetcd grpc-proxy start [flags]\n\nFlags:\n${rows.map((r) => r.left.padEnd(width) + r.right).join('\n')}\n`;
}

/** `tsetcd grpc-proxy` without a known subcommand: cobra's listing of it. */
export const GROUP_HELP = `grpc-proxy related command

Usage:
  tsetcd grpc-proxy [command]

Available Commands:
  start       start the grpc proxy

Flags:
  -h, --help   help for grpc-proxy

Use "tsetcd grpc-proxy [command] --help" for more information about a command.
`;

function numberFrom(r: NumResult, raw: string, flag: string, goFn: string): number | string {
  if (r.ok) return r.value;
  const why = r.reason === 'syntax' ? 'invalid syntax' : 'value out of range';
  return `invalid argument "${raw}" for "--${flag}" flag: ${goFn}: parsing "${raw}": ${why}`;
}

/** One flag value, or pflag's error text. */
function convert(spec: FlagSpec, raw: string): Value | { error: string } {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'strings':
      return raw === '' ? [] : raw.split(',');
    case 'bool': {
      const b = parseGoBool(raw);
      return b === undefined ? { error: `invalid argument "${raw}" for "--${spec.name}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax` } : b;
    }
    case 'int': {
      const v = numberFrom(parseGoInt(raw, 64), raw, spec.name, 'strconv.ParseInt');
      return typeof v === 'string' ? { error: v } : v;
    }
    case 'uint':
    case 'uint32': {
      const v = numberFrom(parseGoUint(raw, spec.kind === 'uint' ? 64 : 32), raw, spec.name, 'strconv.ParseUint');
      return typeof v === 'string' ? { error: v } : v;
    }
    case 'duration': {
      const d = parseGoDuration(raw);
      return d.ok ? d.ns / 1e6 : { error: `invalid argument "${raw}" for "--${spec.name}" flag: ${d.message}` };
    }
  }
}

/** Parses the arguments after `grpc-proxy` (the first is expected to be `start`). */
export function parseProxyArgs(args: readonly string[]): ParseOutcome {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') return { action: 'help', text: GROUP_HELP };
  if (sub !== 'start') return { action: 'error', message: `unknown command "${sub}" for "tsetcd grpc-proxy"`, usage: false };
  const values = new Map<string, Value>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '-h' || arg === '--help') return { action: 'help', text: `start the grpc proxy\n\n${startHelp()}` };
    if (arg === '--') break;
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) return { action: 'error', message: `unknown shorthand flag: '${arg[1]}' in ${arg}`, usage: true };
      continue; // cobra passes positional arguments to the command, which ignores them
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = BY_NAME.get(name);
    if (!spec) return { action: 'error', message: `unknown flag: --${name}`, usage: true };
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.kind === 'bool') raw = 'true';
    else if (i + 1 < rest.length) raw = rest[++i]!;
    else return { action: 'error', message: `flag needs an argument: --${name}`, usage: true };
    const v = convert(spec, raw);
    if (typeof v === 'object' && !Array.isArray(v)) return { action: 'error', message: v.error, usage: true };
    // a repeated list flag appends, as pflag's StringSlice does after the first use
    const prev = values.get(name);
    values.set(name, spec.kind === 'strings' && Array.isArray(prev) ? [...prev, ...(v as string[])] : v);
  }
  const config = toConfig(values);
  const problem = checkArgs(config);
  return problem ? { action: 'error', message: problem, usage: false } : { action: 'run', config };
}

function toConfig(v: Map<string, Value>): ProxyConfig {
  const str = (n: string, d = ''): string => (v.get(n) as string | undefined) ?? d;
  const bool = (n: string): boolean => (v.get(n) as boolean | undefined) ?? false;
  const num = (n: string, d: number): number => (v.get(n) as number | undefined) ?? d;
  return {
    endpoints: (v.get('endpoints') as string[] | undefined) ?? ['127.0.0.1:2379'],
    listenAddr: str('listen-addr', '127.0.0.1:23790'),
    advertiseClientUrl: str('advertise-client-url', '127.0.0.1:23790'),
    resolverPrefix: str('resolver-prefix'),
    resolverTtlSec: num('resolver-ttl', 0),
    namespace: str('namespace'),
    metricsAddr: str('metrics-addr'),
    dataDir: str('data-dir', 'default.proxy'),
    upstreamTls: { cert: str('cert'), key: str('key'), ca: str('cacert'), insecureSkipVerify: bool('insecure-skip-tls-verify') },
    serveTls: {
      certFile: str('cert-file'),
      keyFile: str('key-file'),
      trustedCaFile: str('trusted-ca-file'),
      crlFile: str('client-crl-file'),
      autoTls: bool('auto-tls'),
      cipherSuites: (v.get('listen-cipher-suites') as string[] | undefined) ?? [],
      minVersion: str('tls-min-version', 'TLS1.2'),
      maxVersion: str('tls-max-version'),
      validityYears: num('self-signed-cert-validity', 1),
    },
    maxSendBytes: num('max-send-bytes', DEFAULT_MAX_SEND_BYTES),
    maxRecvBytes: num('max-recv-bytes', MAX_INT32),
    maxConcurrentStreams: num('max-concurrent-streams', 0xffffffff),
    keepalive: { minTimeMs: num('grpc-keepalive-min-time', 5000), intervalMs: num('grpc-keepalive-interval', 2 * 3600_000), timeoutMs: num('grpc-keepalive-timeout', 20_000) },
    enablePprof: bool('enable-pprof'),
    debug: bool('debug'),
    grpcLogging: bool('experimental-enable-grpc-logging'),
    serializableOrdering: bool('experimental-serializable-ordering'),
    leasingPrefix: str('experimental-leasing-prefix'),
    discoverySrv: str('discovery-srv'),
    discoverySrvName: str('discovery-srv-name'),
    insecureDiscovery: bool('insecure-discovery'),
    endpointsAutoSyncIntervalMs: num('endpoints-auto-sync-interval', 0),
    dialKeepaliveTimeMs: num('dial-keepalive-time', 0),
    dialKeepaliveTimeoutMs: num('dial-keepalive-timeout', 20_000),
    permitWithoutStream: bool('permit-without-stream'),
  };
}

const TLS_VERSIONS = new Set(['', 'TLS1.2', 'TLS1.3']);

/** etcd's checkArgs: the same conditions, the same sentences. */
function checkArgs(c: ProxyConfig): string | undefined {
  if (c.resolverPrefix !== '' && c.resolverTtlSec < 1) return `invalid resolver-ttl ${c.resolverTtlSec}`;
  if (c.resolverPrefix === '' && c.resolverTtlSec > 0) return `invalid resolver-prefix ""`;
  if (c.resolverPrefix !== '' && c.resolverTtlSec > 0 && c.advertiseClientUrl === '') return `invalid advertise-client-url ""`;
  if (c.serveTls.autoTls && c.serveTls.validityYears === 0) return 'selfSignedCertValidity is invalid,it should be greater than 0';
  for (const [flag, value] of [['tls-min-version', c.serveTls.minVersion], ['tls-max-version', c.serveTls.maxVersion]] as const) {
    if (!TLS_VERSIONS.has(value)) return `${flag} is invalid: unexpected TLS version ${value} (must be one of: TLS1.2, TLS1.3)`;
  }
  if (c.serveTls.maxVersion !== '' && c.serveTls.minVersion > c.serveTls.maxVersion) {
    return `min version (${c.serveTls.minVersion}) is greater than max version (${c.serveTls.maxVersion})`;
  }
  if (c.serveTls.minVersion === 'TLS1.3' && c.serveTls.cipherSuites.length > 0) return 'cipher suites cannot be configured when only TLS1.3 is enabled';
  return undefined;
}
