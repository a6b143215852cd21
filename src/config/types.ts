// Shapes shared by the config modules: how a flag is declared, the values the
// parsers produce, and the validated Config handed to the server.

import type { LogRotationConfig } from '../pkg/log-rotation.js';

/**
 * How a flag's text becomes a value. The names follow the Go types etcd
 * declares, because range limits and error messages depend on them.
 */
export type FlagKind =
  | 'string'
  | 'bool'
  | 'uint' // Go uint (64 bits on the platforms etcd ships for)
  | 'uint32'
  | 'uint64'
  | 'int'
  | 'int64'
  | 'duration' // Go time.Duration, kept as nanoseconds
  | 'choice' // a string limited to `choices`
  | 'urls' // comma-separated URLs, deduplicated and sorted
  | 'strings' // comma-separated list, kept in order
  | 'unique-strings' // comma-separated list, deduplicated and sorted
  | 'ignored'; // accepted for old scripts, warned about, has no effect

/**
 * A parsed value. Numbers are plain numbers (durations in nanoseconds); URL
 * lists are kept as their normalised strings so they compare and print the way
 * etcd prints them.
 */
export type FlagValue = string | boolean | number | readonly string[];

/** The groups `--help` prints flags under, in etcd's order. */
export type HelpSection =
  | 'Member'
  | 'Clustering'
  | 'Security'
  | 'Auth'
  | 'Profiling and Monitoring'
  | 'Logging'
  | 'v2 Proxy (to be deprecated in v4)'
  | 'Experimental feature'
  | 'Unsafe feature'
  | 'TO BE DEPRECATED'
  | 'Usage';

/** The Go type etcd's YAML decoder targets; it names the type in decode errors. */
export type YamlGoType =
  | 'string'
  | 'bool'
  | 'uint'
  | 'uint32'
  | 'uint64'
  | 'int'
  | 'int64'
  | 'time.Duration'
  | '[]string';

export interface FlagSpec {
  /** name without dashes, e.g. `listen-client-urls` */
  readonly name: string;
  readonly kind: FlagKind;
  /** the value when nothing sets the flag */
  readonly default: FlagValue;
  /** what `--help` shows as the default, when it differs from the value */
  readonly defaultText?: string;
  readonly help: string;
  readonly section: HelpSection;
  /**
   * Whether tsetcd implements the flag. An unsupported flag may be given, but
   * only with its default value; anything else fails validation by name.
   */
  readonly supported: boolean;
  /** set for flags etcd 3.4 does not have: '3.5' when etcd 3.5 has it, 'tsetcd' when only tsetcd does */
  readonly since?: '3.5' | 'tsetcd';
  /** allowed values of a `choice` flag */
  readonly choices?: readonly string[];
  /** values a `urls` flag accepts without parsing them as URLs (etcd's exceptions) */
  readonly urlExceptions?: readonly string[];
  /**
   * Key in a `--config-file` YAML document: dotted for nested objects
   * (`client-transport-security.cert-file`), null when etcd reads the flag only
   * from the command line. Defaults to the flag name.
   */
  readonly yamlKey?: string | null;
  /** Go type behind the YAML key when it differs from what `kind` implies */
  readonly yamlType?: YamlGoType;
  /** left out of `--help`, as etcd leaves it out */
  readonly hidden?: boolean;
  /**
   * Set for a flag that has nothing to act on in tsetcd: why. `--help` shows it, and a
   * start with the flag set to anything but its default logs it.
   */
  readonly inert?: string;
}

/** Where the effective values came from. */
export type ConfigSource = 'flags' | 'config-file';

/** Raw flag state after the command line, environment or YAML were applied. */
export interface FlagState {
  readonly values: Map<string, FlagValue>;
  /** flags given a value by the command line, the environment or the YAML file */
  readonly explicit: Set<string>;
}

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  clientCertAuth: boolean;
  trustedCaFile: string;
  autoTls: boolean;
  crlFile: string;
  allowedHostname: string;
  /** peer side only: the CN a connecting peer's certificate must carry ('' = any) */
  allowedCn: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'dpanic' | 'panic' | 'fatal';

export type AutoCompaction =
  /** keep `retentionMs` of history; 0 disables auto compaction */
  | { readonly mode: 'periodic'; readonly retentionMs: number }
  /** keep the last `retentionRevisions` revisions; 0 disables auto compaction */
  | { readonly mode: 'revision'; readonly retentionRevisions: number };

/** The validated configuration of one member. */
export interface Config {
  readonly source: ConfigSource;
  /** the YAML file the values came from, when `source` is 'config-file' */
  readonly configFile: string | undefined;

  readonly name: string;
  /** `--data-dir`, or `${name}.etcd` when it was left empty */
  readonly dataDir: string;
  /** `--wal-dir`, or `${dataDir}/member/wal` when it was left empty */
  readonly walDir: string;
  /** true when `--wal-dir` named a directory of its own */
  readonly dedicatedWalDir: boolean;

  readonly listenClientUrls: readonly URL[];
  /** empty only in the cases etcd allows (it never is for a member) */
  readonly advertiseClientUrls: readonly URL[];
  readonly listenPeerUrls: readonly URL[];
  readonly initialAdvertisePeerUrls: readonly URL[];
  readonly listenMetricsUrls: readonly URL[];
  /** --listen-client-http-urls (etcd 3.5): HTTP only there, gRPC only on listenClientUrls */
  readonly listenClientHttpUrls: readonly URL[];
  /** tsetcd's web dashboard; empty (the default) serves none */
  readonly listenDashboardUrls: readonly URL[];

  /** `--initial-cluster` as given (after etcd's defaulting from `--name`) */
  readonly initialClusterRaw: string;
  /** member name → peer URLs, in the order the names first appear */
  readonly initialCluster: ReadonlyMap<string, readonly URL[]>;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;

  readonly snapshotCount: number;
  readonly maxSnapshots: number;
  readonly maxWals: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;

  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  /** 0 = the default quota (2 GiB), negative = no quota, as etcd reads it */
  readonly quotaBackendBytes: number;

  readonly autoCompactionMode: 'periodic' | 'revision';
  /** `--auto-compaction-retention` exactly as given */
  readonly autoCompactionRetention: string;
  readonly autoCompaction: AutoCompaction;

  readonly logger: 'zap' | 'capnslog';
  readonly logOutputs: readonly string[];
  /** effective level: `debug` when the deprecated `--debug` is set */
  readonly logLevel: LogLevel;
  readonly debug: boolean;

  readonly metrics: 'basic' | 'extensive';
  /** --enable-log-rotation with --log-rotation-config-json, decoded; undefined when off */
  readonly logRotation: LogRotationConfig | undefined;
  /** --enable-v2 as given; the v2 API is not served either way (a warning says so) */
  readonly enableV2: boolean;

  /** --experimental-initial-corrupt-check */
  readonly initialCorruptCheck: boolean;
  /** --experimental-corrupt-check-time (0: no periodic check) */
  readonly corruptCheckTimeMs: number;
  /** --experimental-watch-progress-notify-interval (0: etcd's default, 10 minutes) */
  readonly watchProgressNotifyIntervalMs: number;
  /** --max-concurrent-streams (4294967295, etcd's default, means no limit of its own) */
  readonly maxConcurrentStreams: number;
  /** --enable-pprof */
  readonly enablePprof: boolean;
  /** --backend-batch-interval in ms, --backend-batch-limit (0: etcd's defaults) */
  readonly backendBatchIntervalMs: number;
  readonly backendBatchLimit: number;
  readonly unsafeNoFsync: boolean;
  readonly maxLearners: number;
  readonly stopGrpcServiceOnDefrag: boolean;
  readonly compactionBatchLimit: number;
  readonly snapshotCatchUpEntries: number;
  readonly warningApplyDurationMs: number;
  readonly bootstrapDefragThresholdMb: number;
  /** --raft-read-timeout / --raft-write-timeout in ms */
  readonly raftConnTimeouts: { readonly readTimeoutMs: number; readonly writeTimeoutMs: number };
  /** --experimental-compact-hash-check-time when --experimental-compact-hash-check-enabled, else 0 */
  readonly compactHashCheckTimeMs: number;
  /** --experimental-enable-lease-checkpoint (+ -persist, -interval in ms; 0: 5 minutes); undefined when off */
  readonly leaseCheckpoint: { readonly intervalMs: number; readonly persist: boolean } | undefined;
  /** --grpc-keepalive-min-time, --grpc-keepalive-interval, --grpc-keepalive-timeout, in ms */
  readonly grpcKeepaliveMinTimeMs: number;
  readonly grpcKeepaliveIntervalMs: number;
  readonly grpcKeepaliveTimeoutMs: number;
  /** --cors and --host-whitelist as given ('*' allows all) */
  readonly cors: readonly string[];
  readonly hostWhitelist: readonly string[];
  /** --enable-grpc-gateway (default true) */
  readonly enableGrpcGateway: boolean;
  readonly socketReusePort: boolean;
  readonly memoryMlock: boolean;
  /** --peer-client-cert-file / --peer-client-key-file ('' : the peer certificate) */
  readonly peerClientCertFile: string;
  readonly peerClientKeyFile: string;

  readonly clientTls: Readonly<TlsConfig>;
  readonly peerTls: Readonly<TlsConfig>;

  /** every declared flag's effective value, keyed by flag name */
  readonly values: ReadonlyMap<string, FlagValue>;
  /** flags that were given a value (command line, ETCD_* or YAML) */
  readonly explicitlySet: ReadonlySet<string>;
}

export interface ConfigError {
  /** what went wrong, naming the flag; the CLI prints it and exits */
  readonly message: string;
  /** etcd's exit status for this failure: 2 for command-line syntax, 1 otherwise */
  readonly exitCode: number;
  /** true when etcd prints the short usage after the message */
  readonly usage?: boolean;
}

export interface ParseResult {
  readonly config?: Config;
  /** things etcd logs as warnings; the caller logs them */
  readonly warnings: string[];
  /** things etcd logs at info level (environment variables used, file loaded) */
  readonly notices: string[];
  readonly error?: ConfigError;
  /** `help`: print helpText() and exit 0; `version`: print the version and exit 0 */
  readonly action?: 'help' | 'version';
}

export interface ParseOptions {
  /** reads `--config-file`; defaults to fs.readFileSync(path, 'utf8') */
  readonly readFile?: (path: string) => string;
  /**
   * Run the checks etcd runs only when it bootstraps a member without a WAL
   * (local member in `--initial-cluster`, advertise URLs match it, no duplicate
   * URLs). Default true. The server may turn them off and call
   * `checkBootstrap` itself once it knows the data directory is empty.
   */
  readonly bootstrapChecks?: boolean;
}
