// Turns validated flag values into the typed Config, filling in what etcd
// derives at start (initial cluster from --name, data and WAL directories,
// compaction retention), and holds the bootstrap-only cluster checks.

import { join } from 'node:path';
import { FLAGS, mustFlag } from './flags.js';
import { parseRotationConfig, type LogRotationConfig } from '../pkg/log-rotation.js';
import { goQuote, parseGoDuration } from './goparse.js';
import { isIpHost, parseUrlsMap, toWhatwgUrl, urlsMapText } from './urls.js';
import type { AutoCompaction, Config, ConfigSource, FlagState, FlagValue, LogLevel, TlsConfig } from './types.js';

const DEFAULT_NAME = 'default';
const DEFAULT_SNAPSHOT_COUNT = 100000;
const NS_PER_MS = 1e6;
const NS_PER_HOUR = 3.6e12;

const str = (s: FlagState, n: string) => s.values.get(n) as string;
const num = (s: FlagState, n: string) => s.values.get(n) as number;
const bool = (s: FlagState, n: string) => s.values.get(n) as boolean;
const list = (s: FlagState, n: string) => s.values.get(n) as readonly string[];

function sameValue(a: FlagValue | undefined, b: FlagValue | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/**
 * What etcd does after reading flags and ETCD_* (not for config files): a
 * listener set without an advertised client URL loses the default advertised
 * URL (validation then asks for one), and discovery drops the default
 * --initial-cluster.
 */
export function adjustCommandLineDefaults(state: FlagState): void {
  if (state.explicit.has('listen-client-urls') && !state.explicit.has('advertise-client-urls')) {
    state.values.set('advertise-client-urls', []);
  }
  const discovery = str(state, 'discovery') !== '' || str(state, 'discovery-srv') !== '' || str(state, 'discovery-srv-name') !== '';
  if (discovery && !state.explicit.has('initial-cluster')) state.values.set('initial-cluster', '');
}

/** etcd's InitialClusterFromName: one name=url pair per advertised peer URL. */
function initialClusterFromName(name: string, peerUrls: readonly string[]): string {
  const n = name === '' ? DEFAULT_NAME : name;
  return peerUrls.map((u) => `${n}=${u}`).join(',');
}

/** Go's strconv.Atoi: optional sign and decimal digits only. */
function atoi(s: string): number | undefined {
  return /^[+-]?[0-9]+$/.test(s) ? Number(s) : undefined;
}

/** etcd's reading of --auto-compaction-retention (a bare integer is hours in periodic mode). */
export function parseRetention(
  mode: 'periodic' | 'revision',
  retention: string,
): { ok: true; value: AutoCompaction } | { ok: false; message: string } {
  const text = retention === '' ? '0' : retention;
  const whole = atoi(text);
  if (whole !== undefined && whole >= 0) {
    return mode === 'revision'
      ? { ok: true, value: { mode, retentionRevisions: whole } }
      : { ok: true, value: { mode, retentionMs: (whole * NS_PER_HOUR) / NS_PER_MS } };
  }
  const d = parseGoDuration(text);
  if (!d.ok) return { ok: false, message: `error parsing CompactionRetention: ${d.message}` };
  // etcd would take these too, with meaningless results: refuse them instead
  if (mode === 'revision') {
    return { ok: false, message: `error parsing CompactionRetention: revision mode needs a whole number of revisions, got ${goQuote(text)}` };
  }
  if (d.ns < 0) return { ok: false, message: `error parsing CompactionRetention: retention must not be negative, got ${goQuote(text)}` };
  return { ok: true, value: { mode, retentionMs: d.ns / NS_PER_MS } };
}

function tlsFrom(state: FlagState, side: 'client' | 'peer'): TlsConfig {
  const p = side === 'peer' ? 'peer-' : '';
  return {
    certFile: str(state, `${p}cert-file`),
    keyFile: str(state, `${p}key-file`),
    clientCertAuth: bool(state, `${p}client-cert-auth`),
    trustedCaFile: str(state, side === 'peer' ? 'peer-trusted-ca-file' : 'trusted-ca-file'),
    autoTls: bool(state, `${p}auto-tls`),
    crlFile: str(state, side === 'peer' ? 'peer-crl-file' : 'client-crl-file'),
    allowedHostname: str(state, side === 'peer' ? 'peer-cert-allowed-hostname' : 'client-cert-allowed-hostname'),
    allowedCn: side === 'peer' ? str(state, 'peer-cert-allowed-cn') : '',
  };
}

/** The rotation settings when --enable-log-rotation is on (validateState checked the JSON). */
function rotationOf(state: FlagState): LogRotationConfig | undefined {
  if (!bool(state, 'enable-log-rotation')) return undefined;
  const parsed = parseRotationConfig(str(state, 'log-rotation-config-json'));
  return typeof parsed === 'string' ? undefined : parsed;
}

export type BuildResult =
  | { readonly ok: true; readonly config: Config; readonly warnings: string[]; readonly notices: string[] }
  | { readonly ok: false; readonly message: string };

/** Builds the Config from values that passed validateState. */
export function buildConfig(state: FlagState, source: ConfigSource, configFile: string | undefined): BuildResult {
  const warnings: string[] = [];
  const notices: string[] = [];
  const name = str(state, 'name');
  const peerUrls = list(state, 'initial-advertise-peer-urls');

  let initialClusterRaw = str(state, 'initial-cluster');
  if (name !== DEFAULT_NAME && initialClusterRaw === mustFlag('initial-cluster').default) {
    initialClusterRaw = initialClusterFromName(name, peerUrls);
  }
  const members = parseUrlsMap(initialClusterRaw);
  if (!members.ok) return { ok: false, message: `error setting up initial cluster: ${members.message}` };

  let dataDir = str(state, 'data-dir');
  if (dataDir === '') {
    dataDir = `${name}.etcd`;
    warnings.push(`no data-dir provided, using default data-dir ./${dataDir}`);
  }
  const walDirFlag = str(state, 'wal-dir');

  const modeText = str(state, 'auto-compaction-mode');
  const mode = modeText === 'revision' ? 'revision' : 'periodic';
  const retention = parseRetention(mode, str(state, 'auto-compaction-retention'));
  if (!retention.ok) return { ok: false, message: retention.message };

  let snapshotCount = num(state, 'snapshot-count');
  if (snapshotCount === 0) {
    snapshotCount = DEFAULT_SNAPSHOT_COUNT;
    notices.push(`updated snapshot-count from 0 to default ${DEFAULT_SNAPSHOT_COUNT}`);
  }
  if (bool(state, 'enable-v2')) {
    warnings.push('--enable-v2 is set, but tsetcd serves only the v3 API (as etcd 3.6 does): v2 requests are answered 404; use the v3 API (ETCDCTL_API=3)');
  }
  for (const f of FLAGS) {
    if (f.inert === undefined || f.kind === 'ignored' || sameValue(state.values.get(f.name), f.default)) continue;
    warnings.push(`--${f.name} has no effect in tsetcd: ${f.inert}`);
  }
  let outputs = list(state, 'log-outputs');
  if (state.explicit.has('log-output') && !state.explicit.has('log-outputs')) {
    warnings.push(`'--log-output' flag is deprecated; use '--log-outputs' instead`);
    outputs = list(state, 'log-output');
  }
  const debug = bool(state, 'debug');
  const urls = (n: string) => list(state, n).map(toWhatwgUrl);

  const config: Config = {
    source,
    configFile,
    name,
    dataDir,
    walDir: walDirFlag !== '' ? walDirFlag : join(dataDir, 'member', 'wal'),
    dedicatedWalDir: walDirFlag !== '',
    listenClientUrls: urls('listen-client-urls'),
    advertiseClientUrls: urls('advertise-client-urls'),
    listenPeerUrls: urls('listen-peer-urls'),
    initialAdvertisePeerUrls: urls('initial-advertise-peer-urls'),
    listenMetricsUrls: urls('listen-metrics-urls'),
    listenClientHttpUrls: urls('listen-client-http-urls'),
    listenDashboardUrls: urls('listen-dashboard-urls'),
    initialClusterRaw,
    initialCluster: new Map([...members.members].map(([n, us]) => [n, us.map((u) => toWhatwgUrl(u.text))])),
    initialClusterState: str(state, 'initial-cluster-state') as 'new' | 'existing',
    initialClusterToken: str(state, 'initial-cluster-token'),
    snapshotCount,
    maxSnapshots: num(state, 'max-snapshots'),
    maxWals: num(state, 'max-wals'),
    heartbeatIntervalMs: num(state, 'heartbeat-interval'),
    electionTimeoutMs: num(state, 'election-timeout'),
    maxRequestBytes: num(state, 'max-request-bytes'),
    maxTxnOps: num(state, 'max-txn-ops'),
    quotaBackendBytes: num(state, 'quota-backend-bytes'),
    autoCompactionMode: mode,
    autoCompactionRetention: str(state, 'auto-compaction-retention'),
    autoCompaction: retention.value,
    logger: str(state, 'logger') as 'zap' | 'capnslog',
    logOutputs: outputs.length === 0 ? ['default'] : outputs,
    logLevel: debug ? 'debug' : (str(state, 'log-level') as LogLevel),
    debug,
    metrics: str(state, 'metrics') as 'basic' | 'extensive',
    logRotation: rotationOf(state),
    enableV2: bool(state, 'enable-v2'),
    initialCorruptCheck: bool(state, 'experimental-initial-corrupt-check'),
    corruptCheckTimeMs: num(state, 'experimental-corrupt-check-time') / NS_PER_MS,
    watchProgressNotifyIntervalMs: num(state, 'experimental-watch-progress-notify-interval') / NS_PER_MS,
    enablePprof: bool(state, 'enable-pprof'),
    maxConcurrentStreams: num(state, 'max-concurrent-streams'),
    backendBatchIntervalMs: num(state, 'backend-batch-interval') / NS_PER_MS,
    backendBatchLimit: num(state, 'backend-batch-limit'),
    unsafeNoFsync: bool(state, 'unsafe-no-fsync'),
    maxLearners: num(state, 'experimental-max-learners'),
    stopGrpcServiceOnDefrag: bool(state, 'experimental-stop-grpc-service-on-defrag'),
    compactionBatchLimit: num(state, 'experimental-compaction-batch-limit'),
    snapshotCatchUpEntries: num(state, 'experimental-snapshot-catchup-entries'),
    warningApplyDurationMs: num(state, 'experimental-warning-apply-duration') / NS_PER_MS,
    bootstrapDefragThresholdMb: num(state, 'experimental-bootstrap-defrag-threshold-megabytes'),
    raftConnTimeouts: { readTimeoutMs: num(state, 'raft-read-timeout') / NS_PER_MS, writeTimeoutMs: num(state, 'raft-write-timeout') / NS_PER_MS },
    compactHashCheckTimeMs: bool(state, 'experimental-compact-hash-check-enabled') ? num(state, 'experimental-compact-hash-check-time') / NS_PER_MS : 0,
    leaseCheckpoint: bool(state, 'experimental-enable-lease-checkpoint')
      ? { intervalMs: num(state, 'experimental-lease-checkpoint-interval') / NS_PER_MS, persist: bool(state, 'experimental-enable-lease-checkpoint-persist') }
      : undefined,
    enableGrpcGateway: bool(state, 'enable-grpc-gateway'),
    cors: list(state, 'cors'),
    hostWhitelist: list(state, 'host-whitelist'),
    grpcKeepaliveMinTimeMs: num(state, 'grpc-keepalive-min-time') / NS_PER_MS,
    grpcKeepaliveIntervalMs: num(state, 'grpc-keepalive-interval') / NS_PER_MS,
    grpcKeepaliveTimeoutMs: num(state, 'grpc-keepalive-timeout') / NS_PER_MS,
    socketReusePort: bool(state, 'socket-reuse-port'),
    memoryMlock: bool(state, 'experimental-memory-mlock'),
    peerClientCertFile: str(state, 'peer-client-cert-file'),
    peerClientKeyFile: str(state, 'peer-client-key-file'),
    clientTls: tlsFrom(state, 'client'),
    peerTls: tlsFrom(state, 'peer'),
    values: new Map(state.values),
    explicitlySet: new Set(state.explicit),
  };
  return { ok: true, config, warnings, notices };
}

export interface BootstrapCheck {
  readonly error?: string;
  readonly warnings: string[];
}

const sorted = (xs: readonly string[]) => [...xs].sort();

/** etcd's advertiseMatchesCluster, comparing URL text since config does no DNS. */
function advertiseProblem(name: string, clusterUrls: readonly string[], peerUrls: readonly string[], warnings: string[]): string | undefined {
  const urls = sorted(clusterUrls);
  const ap = sorted(peerUrls);
  if (urls.length === ap.length && urls.every((u, i) => u === ap[i])) return undefined;
  let why: string;
  if (urls.length !== ap.length) {
    why = `len(${'[' + ap.map(goQuote).join(' ') + ']'}) != len(${'[' + urls.map(goQuote).join(' ') + ']'})`;
  } else {
    if (![...urls, ...ap].every(isIpHost)) {
      warnings.push(
        `--initial-advertise-peer-urls=${ap.join(',')} and --initial-cluster ${name}=${urls.join(',')} differ in text; they must resolve to the same addresses`,
      );
      return undefined;
    }
    const i = urls.findIndex((u, k) => u !== ap[k]);
    why = `resolved urls: ${goQuote(ap[i]!)} != ${goQuote(urls[i]!)}`;
  }
  const apText = ap.join(',');
  const ownMap = urlsMapText(new Map([[name, ap]]));
  const fromCluster = urls.filter((u) => !ap.includes(u));
  if (fromCluster.length > 0) {
    const pairs = fromCluster.map((u) => `${name}=${u}`).join(',');
    return `--initial-cluster has ${pairs} but missing from --initial-advertise-peer-urls=${apText} (${why})`;
  }
  const fromAdvertise = ap.filter((u) => !urls.includes(u));
  if (fromAdvertise.length > 0) {
    return `--initial-advertise-peer-urls has ${fromAdvertise.join(',')} but missing from --initial-cluster=${ownMap}`;
  }
  return `failed to resolve ${apText} to match --initial-cluster=${ownMap} (${why})`;
}

/**
 * The checks etcd makes only when it bootstraps a member that has no WAL yet:
 * this member is in --initial-cluster, its entry matches
 * --initial-advertise-peer-urls (new clusters), and no URL appears twice.
 */
export function checkBootstrap(config: Config): BootstrapCheck {
  const peerUrls = config.values.get('initial-advertise-peer-urls') as readonly string[];
  return checkBootstrapOf(config.name, config.initialClusterRaw, config.initialClusterState, peerUrls);
}

/** checkBootstrap's checks on their own inputs (snapshot restore makes them too). */
export function checkBootstrapOf(name: string, initialClusterRaw: string, state: string, peerUrls: readonly string[]): BootstrapCheck & { members?: Map<string, string[]> } {
  const warnings: string[] = [];
  const parsed = parseUrlsMap(initialClusterRaw);
  if (!parsed.ok) return { error: `error setting up initial cluster: ${parsed.message}`, warnings };
  const members = new Map([...parsed.members].map(([n, us]) => [n, us.map((u) => u.text)]));
  const own = members.get(name);
  if (own === undefined) return { error: `couldn't find local name ${goQuote(name)} in the initial cluster configuration`, warnings };
  if (state === 'new') {
    const problem = advertiseProblem(name, own, peerUrls, warnings);
    if (problem !== undefined) return { error: problem, warnings };
  }
  const all = [...members.values()].flat();
  if (new Set(all).size !== all.length) return { error: `initial cluster ${urlsMapText(members)} has duplicate url`, warnings };
  if (state === 'new' && all.length === 0) {
    return { error: 'initial cluster unset and no discovery URL found', warnings };
  }
  return { warnings, members };
}
