// tsetcd: the member process. Takes etcd's flags, ETCD_* environment and
// --config-file, starts the member and serves clients until SIGINT/SIGTERM.
import { spawn } from 'node:child_process';
import { checkBootstrap, helpText, parseConfig, usageText, type Config } from '../config/index.js';
import { parseUrlsMap } from '../config/urls.js';
import { createLogger, type Logger, type LogLevel } from '../pkg/logger.js';
import { EtcdServer, SERVER_VERSION, type ServerOptions } from '../server/server.js';
import { serveClientApi, serveMetricsApi } from '../api/client-api.js';
import { secureContextOptions, watchTlsFiles } from '../pki/tls-context.js';
import type { PeerTlsOptions } from '../peer/dialer.js';
import { startupTls, type StartupTls } from './tls-startup.js';
import { servePeerApi } from '../api/peer-api.js';
import { serveDashboard } from '../dashboard/server.js';
import { Wal } from '../wal/index.js';
import { TSETCD_VERSION } from './version.js';
import { installClockFailpoint } from '../pkg/clock.js';
import { runGatewayMode } from '../gateway/main.js';
import { discoverInitialCluster } from '../config/discovery.js';

function exitWith(code: number, text: string): never {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  process.exit(code);
}

function loggerFor(config: Config): Logger {
  const level: LogLevel = config.logLevel === 'dpanic' ? 'panic' : config.logLevel;
  return createLogger({ level, outputs: [...config.logOutputs], ...(config.logRotation ? { rotation: config.logRotation } : {}) });
}

function urlTexts(config: Config, flag: string): string[] {
  return [...((config.values.get(flag) as readonly string[] | undefined) ?? [])];
}

function serverOptions(config: Config, logger: Logger, tlsSetup: StartupTls): ServerOptions {
  const parsed = parseUrlsMap(config.initialClusterRaw);
  if (!parsed.ok) throw new Error(parsed.message);
  const initialCluster = new Map<string, string[]>();
  for (const [name, urls] of parsed.members) initialCluster.set(name, urls.map((u) => u.text));
  const quota = config.quotaBackendBytes === 0 ? 2 * 1024 ** 3 : config.quotaBackendBytes < 0 ? 0 : config.quotaBackendBytes;
  return {
    name: config.name,
    dataDir: config.dataDir,
    walDir: config.walDir,
    initialCluster,
    initialClusterState: config.initialClusterState,
    initialClusterToken: config.initialClusterToken,
    advertiseClientUrls: urlTexts(config, 'advertise-client-urls'),
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    auth: {
      token: String(config.values.get('auth-token') ?? 'simple'),
      bcryptCost: Number(config.values.get('bcrypt-cost') ?? 10),
      tokenTtlSec: Number(config.values.get('auth-token-ttl') ?? 300),
      clientCertAuth: config.clientTls.clientCertAuth,
    },
    peerTls: peerDialTls(tlsSetup, config, logger),
    preVote: Boolean(config.values.get('pre-vote') ?? true),
    strictReconfigCheck: Boolean(config.values.get('strict-reconfig-check') ?? true),
    forceNewCluster: Boolean(config.values.get('force-new-cluster') ?? false),
    initialElectionTickAdvance: Boolean(config.values.get('initial-election-tick-advance') ?? true),
    onRemoved: () => {
      logger.warn('exiting: this member was removed from the cluster');
      process.exit(0);
    },
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    electionTimeoutMs: config.electionTimeoutMs,
    quotaBackendBytes: quota,
    snapshotCount: config.snapshotCount,
    maxSnapshots: config.maxSnapshots,
    maxWals: config.maxWals,
    autoCompaction:
      config.autoCompaction.mode === 'periodic'
        ? { mode: 'periodic', retentionMs: config.autoCompaction.retentionMs }
        : { mode: 'revision', retentionRevisions: config.autoCompaction.retentionRevisions },
    logger,
    initialCorruptCheck: config.initialCorruptCheck,
    corruptCheckTimeMs: config.corruptCheckTimeMs,
    backendBatchIntervalMs: config.backendBatchIntervalMs,
    backendBatchLimit: config.backendBatchLimit,
    unsafeNoFsync: config.unsafeNoFsync,
    maxLearners: config.maxLearners,
    compactionBatchLimit: config.compactionBatchLimit,
    snapshotCatchUpEntries: config.snapshotCatchUpEntries,
    warningApplyDurationMs: config.warningApplyDurationMs,
    bootstrapDefragThresholdMb: config.bootstrapDefragThresholdMb,
    leaseCheckpoint: config.leaseCheckpoint,
    raftConnTimeouts: config.raftConnTimeouts,
    compactHashCheck: config.compactHashCheckTimeMs > 0 ? { intervalMs: config.compactHashCheckTimeMs } : undefined,
  };
}

/**
 * What this member presents and trusts when it dials peers. The object is updated in
 * place when the files change, so new connections use the new certificates.
 */
function peerDialTls(tlsSetup: StartupTls, config: Config, logger: Logger): PeerTlsOptions | undefined {
  // --peer-client-cert-file/--peer-client-key-file: what this member presents when it dials
  const files =
    config.peerClientCertFile && config.peerClientKeyFile
      ? { ...tlsSetup.peer, certFile: config.peerClientCertFile, keyFile: config.peerClientKeyFile }
      : tlsSetup.peer;
  if (!files.certFile || !files.keyFile) return undefined;
  const load = (): PeerTlsOptions => {
    const ctx = secureContextOptions(files, 'peer-');
    // self-signed (--peer-auto-tls) certificates cannot be verified; etcd skips verification too
    return { cert: ctx.cert as Buffer, key: ctx.key as Buffer, ca: ctx.ca as Buffer | undefined, verify: !tlsSetup.peerSelfSigned };
  };
  const opts = load();
  watchTlsFiles(
    files,
    'peer-',
    () => Object.assign(opts, load()),
    (err) => logger.warn('kept the previous peer TLS certificates', { error: err.message }),
  );
  return opts;
}

/** Node.js 22.12 added SO_REUSEPORT to net.Server#listen. */
function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** Flags whose promise this Node.js cannot keep: refused before anything is touched. */
function runtimeRefusal(config: Config): string | undefined {
  if (config.memoryMlock) {
    return '--experimental-memory-mlock: Node.js cannot lock the process in RAM (it has no mlockall, and no maintained npm module binds it); disable swap for the member instead';
  }
  if (config.socketReusePort && !nodeHasReusePort()) {
    return `--socket-reuse-port: Node.js ${process.version} cannot set SO_REUSEPORT on a listener (Node.js 22.12 or later can)`;
  }
  return undefined;
}


async function main(): Promise<void> {
  installClockFailpoint();
  const mode = process.argv[2];
  if (mode === 'grpc-proxy') return (await import('../proxy/cli.js')).grpcProxyMain(process.argv.slice(3));
  if (mode === 'gateway') return runGatewayMode(process.argv.slice(3));
  const result = parseConfig(process.argv.slice(2), process.env, { bootstrapChecks: false });
  if (result.action === 'help') {
    process.stdout.write(helpText());
    process.exit(0);
  }
  if (result.action === 'version') {
    process.stdout.write(
      `tsetcd Version: ${TSETCD_VERSION}\netcd API Version: ${SERVER_VERSION}\nNode Version: ${process.version}\nNode OS/Arch: ${process.platform}/${process.arch}\n`,
    );
    process.exit(0);
  }
  if (result.error || !result.config) {
    const e = result.error!;
    exitWith(e.exitCode, e.usage ? `${e.message}\n${usageText()}` : e.message);
  }
  let config = result.config;
  const logger = loggerFor(config);
  for (const n of result.notices) logger.info(n);
  for (const w of result.warnings) logger.warn(w);
  const runtimeProblem = runtimeRefusal(config);
  if (runtimeProblem !== undefined) {
    logger.fatal('cannot honour a flag on this runtime', { error: runtimeProblem });
    exitWith(1, `tsetcd: ${runtimeProblem}`);
  }

  if (!Wal.exists(config.walDir)) {
    config = await discoverInitialCluster(config, logger).catch((err: Error) => exitWith(1, `tsetcd: ${err.message}`));
    const check = checkBootstrap(config);
    for (const w of check.warnings) logger.warn(w);
    if (check.error) {
      logger.fatal('discovery failed', { error: check.error });
      exitWith(1, check.error);
    }
  }

  logger.info('starting tsetcd', { version: TSETCD_VERSION, 'etcd-api-version': SERVER_VERSION, name: config.name, 'data-dir': config.dataDir });
  let tlsSetup: StartupTls;
  try {
    tlsSetup = await startupTls(config, logger);
  } catch (err) {
    logger.fatal('invalid TLS configuration', { error: (err as Error).message });
    exitWith(1, `tsetcd: ${(err as Error).message}`);
  }
  let server: EtcdServer;
  const options = serverOptions(config, logger, tlsSetup);
  try {
    server = await EtcdServer.start(options);
  } catch (err) {
    logger.fatal('failed to start member', { error: (err as Error).message });
    exitWith(1, `tsetcd: ${(err as Error).message}`);
  }
  if (config.metrics === 'extensive') server.metrics.enableHandlingTimeHistogram();
  let clientApi;
  let peerApi;
  let metricsApi;
  let dashboard;
  try {
    peerApi = await servePeerApi(server, [...config.listenPeerUrls], logger, {
      files: tlsSetup.peer,
      allowedCn: config.peerTls.allowedCn,
      allowedHostname: config.peerTls.allowedHostname,
    });
    clientApi = await serveClientApi(server, [...config.listenClientUrls], logger, tlsSetup.client, {
      progressNotifyIntervalMs: config.watchProgressNotifyIntervalMs,
      enablePprof: config.enablePprof,
      maxConcurrentStreams: config.maxConcurrentStreams,
      enableGrpcGateway: config.enableGrpcGateway,
      stopGrpcServiceOnDefrag: config.stopGrpcServiceOnDefrag,
      allowedHostname: config.clientTls.allowedHostname,
      listenClientHttpUrls: [...config.listenClientHttpUrls],
      access: { cors: config.cors, hostWhitelist: config.hostWhitelist },
      keepalive: { minTimeMs: config.grpcKeepaliveMinTimeMs, intervalMs: config.grpcKeepaliveIntervalMs, timeoutMs: config.grpcKeepaliveTimeoutMs },
      reusePort: config.socketReusePort,
    });
    peerApi.serveClientApi(clientApi.handlers);
    metricsApi = await serveMetricsApi(server, [...config.listenMetricsUrls], logger);
    dashboard = await serveDashboard(server, { urls: [...config.listenDashboardUrls], logger, tlsFiles: tlsSetup.client, peerTls: options.peerTls });
  } catch (err) {
    logger.fatal('failed to serve', { error: (err as Error).message });
    await server.stop().catch(() => {});
    exitWith(1, `tsetcd: ${(err as Error).message}`);
  }
  logger.info('ready to serve client requests', { 'local-member-id': server.memberId.toString(16) });
  // like etcd, tell systemd only once the member has joined the cluster through raft
  void server.whenPublished.then(() => notifySystemdReady(logger));

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info('received signal; shutting down', { signal });
    await clientApi.close();
    await metricsApi.close();
    await dashboard.close();
    await peerApi.close();
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/**
 * Type=notify units wait for READY=1 on $NOTIFY_SOCKET, as etcd sends it. Node.js cannot
 * send unix datagrams, so systemd's own `systemd-notify --ready` sends it; it waits until
 * systemd has read the message, and its pid is ours only by ancestry, so the unit needs
 * NotifyAccess=all (deploy/systemd/tsetcd.service has it).
 */
function notifySystemdReady(logger: Logger): void {
  const socketPath = process.env['NOTIFY_SOCKET'];
  if (!socketPath) return;
  logger.info('notifying init daemon', { 'notify-socket': socketPath });
  let stderr = '';
  const child = spawn('systemd-notify', ['--ready', `--status=serving client requests`], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.on('error', (err) => logger.error('failed to notify init daemon', { error: `systemd-notify: ${err.message}` }));
  child.on('exit', (code) => {
    if (code === 0) logger.info('successfully notified init daemon', {});
    else if (code !== null) logger.error('failed to notify init daemon', { error: stderr.trim() || `systemd-notify exited with ${code}` });
  });
}

main().catch((err) => exitWith(1, `tsetcd: ${(err as Error).stack ?? String(err)}`));
