// Every flag etcd 3.4 accepts (plus the 3.5 additions), with its type, default,
// YAML key and whether tsetcd implements it: all but the v2 proxy's, which are
// refused when set (validate.ts). Flags with nothing to act on carry `inert`.

import type { FlagSpec, FlagValue, FlagKind, YamlGoType } from './types.js';

const S = 1_000_000_000; // nanoseconds per second, for duration defaults

const MEMBER: FlagSpec[] = [
  { name: 'name', kind: 'string', default: 'default', section: 'Member', supported: true, help: 'Readable name of this member; must be unique within the cluster.' },
  { name: 'data-dir', kind: 'string', default: '', defaultText: '${name}.etcd', section: 'Member', supported: true, help: 'Directory holding the member\'s data.' },
  { name: 'wal-dir', kind: 'string', default: '', section: 'Member', supported: true, help: 'Put the write-ahead log in this directory instead of inside the data directory.' },
  { name: 'snapshot-count', kind: 'uint64', default: 100000, section: 'Member', supported: true, help: 'Take a snapshot to disk after this many committed entries.' },
  { name: 'heartbeat-interval', kind: 'uint', default: 100, section: 'Member', supported: true, help: 'Milliseconds between leader heartbeats.' },
  { name: 'election-timeout', kind: 'uint', default: 1000, section: 'Member', supported: true, help: 'Milliseconds a follower waits without hearing from a leader before it starts an election. Must be at least 5 heartbeat intervals.' },
  { name: 'initial-election-tick-advance', kind: 'bool', default: true, section: 'Member', supported: true, help: 'Skip most of the first election timeout after start so a leader is found sooner.' },
  { name: 'listen-peer-urls', kind: 'urls', default: ['http://localhost:2380'], urlExceptions: [''], yamlType: 'string', section: 'Member', supported: true, help: 'URLs to accept traffic from other members on.' },
  { name: 'listen-client-urls', kind: 'urls', default: ['http://localhost:2379'], urlExceptions: [''], yamlType: 'string', section: 'Member', supported: true, help: 'URLs to accept client traffic on.' },
  { name: 'listen-client-http-urls', since: '3.5', kind: 'urls', default: [], urlExceptions: [''], yamlType: 'string', section: 'Member', supported: true, help: 'URLs to serve only HTTP client traffic on; HTTP then leaves --listen-client-urls.' },
  { name: 'max-snapshots', kind: 'uint', default: 5, section: 'Member', supported: true, help: 'How many snapshot files to keep (0 keeps all).' },
  { name: 'max-wals', kind: 'uint', default: 5, section: 'Member', supported: true, help: 'How many WAL files to keep (0 keeps all).' },
  { name: 'quota-backend-bytes', kind: 'int64', default: 0, section: 'Member', supported: true, help: 'Raise the NOSPACE alarm when the backend grows past this size (0 means the 2 GiB default, negative means no quota).' },
  { name: 'backend-bbolt-freelist-type', since: '3.5', kind: 'string', default: '', section: 'Member', supported: true, inert: 'the backend is LMDB, whose free pages have a single layout', help: 'Free-list layout of the backend database (array or map).' },
  { name: 'backend-batch-interval', kind: 'duration', default: 0, defaultText: '', section: 'Member', supported: true, help: 'Longest time a backend write transaction stays open before it is committed (0: 100ms).' },
  { name: 'backend-batch-limit', kind: 'int', default: 0, section: 'Member', supported: true, help: 'Most operations a backend write transaction collects before it is committed (0: 10000).' },
  { name: 'max-txn-ops', kind: 'uint', default: 128, section: 'Member', supported: true, help: 'Most operations allowed in one transaction.' },
  { name: 'max-request-bytes', kind: 'uint', default: 1572864, section: 'Member', supported: true, help: 'Largest client request, in bytes, the server accepts.' },
  { name: 'max-concurrent-streams', kind: 'uint32', default: 4294967295, defaultText: 'math.MaxUint32', section: 'Member', supported: true, help: 'Most concurrent streams one client connection may open (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; the JSON gateway shares as many, as etcd\'s does). At the default tsetcd still bounds a connection at 10000 streams, to bound its memory.' },
  { name: 'grpc-keepalive-min-time', kind: 'duration', default: 5 * S, section: 'Member', supported: true, help: 'Shortest interval a client may use between keepalive pings; a client pinging faster gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings".' },
  { name: 'grpc-keepalive-interval', kind: 'duration', default: 7200 * S, section: 'Member', supported: true, help: 'How often the server pings a client connection to see it is alive (0 disables).' },
  { name: 'grpc-keepalive-timeout', kind: 'duration', default: 20 * S, section: 'Member', supported: true, help: 'How long to wait for a ping reply before closing the connection (0 disables).' },
  { name: 'socket-reuse-port', since: '3.5', kind: 'bool', default: false, yamlKey: null, section: 'Member', supported: true, help: 'Set SO_REUSEPORT on listeners, so several processes can listen on one port (needs Node.js 22.12 or later; earlier ones cannot set it and tsetcd refuses to start).' },
  { name: 'socket-reuse-address', since: '3.5', kind: 'bool', default: false, yamlKey: null, section: 'Member', supported: true, inert: 'Node.js always sets SO_REUSEADDR on listening sockets', help: 'Set SO_REUSEADDR on listeners.' },
  { name: 'raft-read-timeout', since: '3.5', kind: 'duration', default: 5 * S, yamlKey: null, section: 'Member', supported: true, help: 'A raft stream from a member on which nothing arrives for this long is closed (senders keep idle streams alive with a heartbeat every third of it; 0: no deadline).' },
  { name: 'raft-write-timeout', since: '3.5', kind: 'duration', default: 5 * S, yamlKey: null, section: 'Member', supported: true, help: 'A raft stream to a member that does not take written bytes for this long is closed and redialed (0: no deadline).' },
];

const CLUSTERING: FlagSpec[] = [
  { name: 'initial-advertise-peer-urls', kind: 'urls', default: ['http://localhost:2380'], urlExceptions: [''], yamlType: 'string', section: 'Clustering', supported: true, help: 'Peer URLs of this member that the other members should use.' },
  { name: 'initial-cluster', kind: 'string', default: 'default=http://localhost:2380', section: 'Clustering', supported: true, help: 'Members to bootstrap the cluster with, as name=peerURL pairs separated by commas.' },
  { name: 'initial-cluster-state', kind: 'choice', choices: ['new', 'existing'], default: 'new', section: 'Clustering', supported: true, help: "'new' to bootstrap a new cluster, 'existing' to join one that is running." },
  { name: 'initial-cluster-token', kind: 'string', default: 'etcd-cluster', section: 'Clustering', supported: true, help: 'Token that sets this cluster apart from others during bootstrap; pick a unique one per cluster.' },
  { name: 'advertise-client-urls', kind: 'urls', default: ['http://localhost:2379'], urlExceptions: [''], yamlType: 'string', section: 'Clustering', supported: true, help: 'Client URLs of this member to publish to clients; they must be reachable by them.' },
  { name: 'discovery', kind: 'string', default: '', section: 'Clustering', supported: true, help: 'URL of a v2 discovery service to bootstrap the cluster through (its URL is then the cluster token).' },
  { name: 'discovery-fallback', kind: 'choice', choices: ['exit', 'proxy'], default: 'proxy', section: 'Clustering', supported: true, help: "What to do when the discovery cluster is full: 'exit', or 'proxy' (etcd then runs as a v2 proxy; tsetcd has none and stops with a sentence saying what to do)." },
  { name: 'discovery-proxy', kind: 'string', default: '', section: 'Clustering', supported: true, help: 'HTTP proxy for reaching the discovery service.' },
  { name: 'discovery-srv', kind: 'string', default: '', section: 'Clustering', supported: true, help: 'DNS domain whose SRV records (_etcd-server-ssl._tcp / _etcd-server._tcp) list the initial members. TSETCD_DNS_SERVERS=ip[:port],... asks other name servers than the system\'s.' },
  { name: 'discovery-srv-name', kind: 'string', default: '', section: 'Clustering', supported: true, help: 'Suffix added to the SRV record names looked up for discovery.' },
  { name: 'strict-reconfig-check', kind: 'bool', default: true, section: 'Clustering', supported: true, help: 'Refuse membership changes that would lose quorum.' },
  { name: 'pre-vote', kind: 'bool', default: false, section: 'Clustering', supported: true, help: 'Run a pre-vote round before an election to avoid needless disruption.' },
  { name: 'auto-compaction-retention', kind: 'string', default: '0', section: 'Clustering', supported: true, help: 'How much history to keep when compacting automatically (0 disables). A period such as 5m, or a bare number of hours, in periodic mode; a revision count in revision mode.' },
  { name: 'auto-compaction-mode', kind: 'string', default: 'periodic', section: 'Clustering', supported: true, help: "How --auto-compaction-retention is read: 'periodic' (a period) or 'revision' (a number of revisions)." },
  { name: 'enable-v2', kind: 'bool', default: false, section: 'Clustering', supported: true, help: 'Serve the etcd v2 API. tsetcd serves only v3 (etcd 3.6 removed v2 as well): the flag is accepted so 3.4 configurations start, and a warning says v2 requests are not served.' },
  { name: 'v2-deprecation', since: '3.5', kind: 'choice', choices: ['not-yet', 'write-only', 'write-only-drop-data', 'gone'], default: 'not-yet', section: 'Clustering', supported: true, inert: "tsetcd keeps no v2 store: it is at 'gone' whatever this says", help: 'Stage of the v2 store deprecation.' },
];

function tls(name: string, yamlKey: string | null, kind: FlagKind, help: string, extra: Partial<FlagSpec> = {}): FlagSpec {
  return { name, kind, default: kind === 'bool' ? false : '', yamlKey, section: 'Security', supported: false, help, ...extra };
}
const CTS = 'client-transport-security.';
const PTS = 'peer-transport-security.';

const SECURITY: FlagSpec[] = [
  tls('cert-file', CTS + 'cert-file', 'string', 'Certificate the client listener presents.', { supported: true }),
  tls('key-file', CTS + 'key-file', 'string', 'Private key of --cert-file.', { supported: true }),
  tls('client-cert-file', CTS + 'client-cert-file', 'string', 'Certificate to present when this server connects as a client (defaults to --cert-file).', { since: '3.5', supported: true, inert: "etcd's gateway presents it when it dials the member's own gRPC port; tsetcd's gateway calls the handlers in process and dials nothing" }),
  tls('client-key-file', CTS + 'client-key-file', 'string', 'Private key of --client-cert-file.', { since: '3.5', supported: true, inert: "etcd's gateway presents it when it dials the member's own gRPC port; tsetcd's gateway calls the handlers in process and dials nothing" }),
  tls('client-cert-auth', CTS + 'client-cert-auth', 'bool', 'Require clients to present a certificate signed by --trusted-ca-file.', { supported: true }),
  tls('client-crl-file', null, 'string', 'Revocation list checked against client certificates.', { supported: true }),
  tls('client-cert-allowed-hostname', null, 'string', 'Hostname a client certificate must be valid for.', { supported: true }),
  tls('trusted-ca-file', CTS + 'trusted-ca-file', 'string', 'CA bundle that client certificates are verified against.', { supported: true }),
  tls('auto-tls', CTS + 'auto-tls', 'bool', 'Serve clients over TLS with a generated self-signed certificate.', { supported: true }),
  tls('peer-cert-file', PTS + 'cert-file', 'string', 'Certificate used on peer connections.', { supported: true }),
  tls('peer-key-file', PTS + 'key-file', 'string', 'Private key of --peer-cert-file.', { supported: true }),
  tls('peer-client-cert-file', PTS + 'client-cert-file', 'string', 'Certificate presented when dialing other members (defaults to --peer-cert-file).', { since: '3.5', supported: true }),
  tls('peer-client-key-file', PTS + 'client-key-file', 'string', 'Private key of --peer-client-cert-file.', { since: '3.5', supported: true }),
  tls('peer-client-cert-auth', PTS + 'client-cert-auth', 'bool', 'Require members to present a certificate signed by --peer-trusted-ca-file.', { supported: true }),
  tls('peer-trusted-ca-file', PTS + 'trusted-ca-file', 'string', 'CA bundle that member certificates are verified against.', { supported: true }),
  tls('peer-cert-allowed-cn', null, 'string', 'Common Name a member certificate must carry.', { supported: true }),
  tls('peer-cert-allowed-hostname', null, 'string', 'Hostname a member certificate must be valid for.', { supported: true }),
  tls('peer-auto-tls', PTS + 'auto-tls', 'bool', 'Use a generated self-signed certificate for peer traffic when no peer certificate is given.', { supported: true }),
  tls('peer-crl-file', null, 'string', 'Revocation list checked against member certificates.', { supported: true }),
  { name: 'self-signed-cert-validity', since: '3.5', kind: 'uint', default: 1, section: 'Security', supported: true, help: 'Years a generated certificate stays valid.' },
  { name: 'tls-min-version', since: '3.5', kind: 'string', default: 'TLS1.2', section: 'Security', supported: true, help: 'Oldest TLS version accepted (TLS1.2 or TLS1.3).' },
  { name: 'tls-max-version', since: '3.5', kind: 'string', default: '', section: 'Security', supported: true, help: 'Newest TLS version accepted (empty leaves it to the runtime).' },
  { name: 'cipher-suites', kind: 'strings', default: [], yamlType: '[]string', section: 'Security', supported: true, help: 'Comma-separated TLS cipher suites to allow (empty leaves the choice to the runtime).' },
  { name: 'cors', kind: 'urls', default: ['*'], urlExceptions: ['*'], yamlType: 'string', section: 'Security', supported: true, help: "Comma-separated origins allowed for cross-origin requests ('*' allows all)." },
  { name: 'host-whitelist', kind: 'unique-strings', default: ['*'], yamlType: 'string', section: 'Security', supported: true, help: "Host names accepted in HTTP requests on insecure listeners ('*' accepts all); others are answered 421, against DNS rebinding." },
];

const AUTH: FlagSpec[] = [
  { name: 'auth-token', kind: 'string', default: 'simple', section: 'Auth', supported: true, help: "Kind of auth token, with options: 'simple' or 'jwt,...'." },
  { name: 'bcrypt-cost', kind: 'uint', default: 10, section: 'Auth', supported: true, help: 'bcrypt cost for hashing user passwords (4 to 31).' },
  { name: 'auth-token-ttl', kind: 'uint', default: 300, section: 'Auth', supported: true, help: 'Seconds a simple auth token lives.' },
];

const MONITORING: FlagSpec[] = [
  { name: 'enable-pprof', kind: 'bool', default: false, section: 'Profiling and Monitoring', supported: true, help: "Serve runtime profiles under /debug/pprof/ on the client URLs, in pprof's format from V8's profilers: profile (CPU) and heap/allocs (sampled live objects); Go-only profiles (goroutine, block, mutex, trace) answer 404." },
  { name: 'metrics', kind: 'string', default: 'basic', section: 'Profiling and Monitoring', supported: true, help: "Detail of exported metrics: 'basic', or 'extensive' to add histograms." },
  { name: 'listen-metrics-urls', kind: 'urls', default: [], urlExceptions: [''], yamlType: 'string', section: 'Profiling and Monitoring', supported: true, help: 'Extra URLs serving only /metrics and /health.' },
  // tsetcd's own: etcd has no dashboard. Same TLS files and auth as the client URLs.
  { name: 'listen-dashboard-urls', kind: 'urls', default: [], urlExceptions: [''], yamlType: 'string', section: 'Profiling and Monitoring', supported: true, since: 'tsetcd', help: 'URLs serving the web dashboard (off when empty). https uses the client TLS settings.' },
];

const LOGGING: FlagSpec[] = [
  { name: 'logger', kind: 'string', default: 'zap', section: 'Logging', supported: true, help: "Log format: 'zap' (structured JSON). 'capnslog' is accepted and deprecated." },
  { name: 'log-outputs', kind: 'unique-strings', default: ['default'], yamlType: '[]string', section: 'Logging', supported: true, help: "Where logs go: 'default', 'stderr', 'stdout', 'systemd/journal' or file paths, comma-separated." },
  { name: 'log-level', kind: 'string', default: 'info', section: 'Logging', supported: true, help: 'Lowest level logged: debug, info, warn, error, panic or fatal.' },
  { name: 'enable-log-rotation', since: '3.5', kind: 'bool', default: false, section: 'Logging', supported: true, help: 'Rotate the log file named by a single --log-outputs path.' },
  { name: 'log-rotation-config-json', since: '3.5', kind: 'string', default: '{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}', section: 'Logging', supported: true, help: 'Log rotation settings as JSON.' },
];

function proxyUint(name: string, def: number, help: string): FlagSpec {
  return { name, kind: 'uint', default: def, section: 'v2 Proxy (to be deprecated in v4)', supported: false, help };
}

const PROXY: FlagSpec[] = [
  { name: 'proxy', kind: 'choice', choices: ['off', 'readonly', 'on'], default: 'off', section: 'v2 Proxy (to be deprecated in v4)', supported: false, help: "Run as a v2 proxy: 'off', 'readonly' or 'on'." },
  proxyUint('proxy-failure-wait', 5000, 'Milliseconds a failed endpoint is left alone.'),
  proxyUint('proxy-refresh-interval', 30000, 'Milliseconds between endpoint list refreshes.'),
  proxyUint('proxy-dial-timeout', 1000, 'Milliseconds allowed for a dial (0 waits forever).'),
  proxyUint('proxy-write-timeout', 5000, 'Milliseconds allowed for a write (0 waits forever).'),
  proxyUint('proxy-read-timeout', 0, 'Milliseconds allowed for a read (0 waits forever).'),
];

function experimental(name: string, kind: FlagKind, def: FlagValue, help: string, extra: Partial<FlagSpec> = {}): FlagSpec {
  return { name, kind, default: def, section: 'Experimental feature', supported: false, help, ...extra };
}

/** Why the tracing flags are accepted but do nothing (see docs/ARCHITECTURE.md, "Tracing"). */
const NO_TRACING = 'tsetcd has no OpenTelemetry exporter yet: no request spans are recorded or sent to the collector';

const EXPERIMENTAL: FlagSpec[] = [
  experimental('experimental-initial-corrupt-check', 'bool', false, 'Compare data hashes with the other members before serving.', { supported: true }),
  experimental('experimental-corrupt-check-time', 'duration', 0, 'Interval between cluster-wide corruption checks (0 disables).', { supported: true }),
  experimental('experimental-compact-hash-check-enabled', 'bool', false, 'Record the KV hash at each compaction, and let the leader compare its recorded hashes with the other members\' (CORRUPT alarm on a mismatch). Set it on every member: one without it cannot answer for a compacted revision and is skipped.', { since: '3.5', supported: true }),
  experimental('experimental-compact-hash-check-time', 'duration', 60 * S, 'Interval between compaction hash checks.', { since: '3.5', supported: true }),
  experimental('experimental-enable-v2v3', 'string', '', 'Serve the v2 API from the v3 store under this prefix.', { supported: true, inert: 'tsetcd serves no v2 API (see --enable-v2)' }),
  experimental('experimental-backend-bbolt-freelist-type', 'string', '', 'Free-list layout of the backend database (array or map).', { defaultText: 'array', supported: true, inert: 'the backend is LMDB, whose free pages have a single layout' }),
  experimental('experimental-enable-lease-checkpoint', 'bool', false, 'Let the leader write remaining lease TTLs to the log, so a new leader does not reset them to the full TTL.', { supported: true }),
  experimental('experimental-enable-lease-checkpoint-persist', 'bool', false, 'Also store checkpointed TTLs in the lease records, so they survive restarts; needs --experimental-enable-lease-checkpoint.', { supported: true }),
  experimental('experimental-lease-checkpoint-interval', 'duration', 0, 'Wait between two checkpoints of one lease (etcd fixes it at 5m outside its tests).', { since: 'tsetcd', defaultText: '5m', supported: true }),
  experimental('experimental-compaction-batch-limit', 'int', 0, 'Most revisions removed per compaction batch.', { defaultText: '1000', supported: true }),
  experimental('experimental-peer-skip-client-san-verification', 'bool', false, 'Do not check the SAN of certificates presented by members.', { yamlKey: null, supported: true, inert: "tsetcd never checks a member's client certificate SAN against its address (it checks the chain, --peer-cert-allowed-cn/-hostname and the CRL)" }),
  experimental('experimental-watch-progress-notify-interval', 'duration', 0, 'Interval of progress notifications sent to idle watches.', { defaultText: '10m', supported: true }),
  experimental('experimental-warning-apply-duration', 'duration', S / 10, 'Warn about requests whose apply takes longer than this.', { supported: true }),
  experimental('experimental-downgrade-check-time', 'duration', 5 * S, 'Interval between downgrade status checks.', { since: '3.5', supported: true, inert: 'tsetcd has no downgrade process to watch' }),
  experimental('experimental-memory-mlock', 'bool', false, 'Lock the backend pages in RAM. Node.js has no mlockall and no maintained npm module binds it, so tsetcd refuses to start with it rather than run unlocked; disable swap instead.', { since: '3.5', supported: true }),
  experimental('experimental-txn-mode-write-with-shared-buffer', 'bool', true, 'Let write transactions read through a shared buffer.', { since: '3.5', supported: true, inert: "write transactions always read through the backend's one write buffer" }),
  experimental('experimental-stop-grpc-service-on-defrag', 'bool', false, 'Report NOT_SERVING on grpc.health.v1 while defragmenting, so balancing clients go to other members.', { since: '3.5', supported: true }),
  experimental('experimental-bootstrap-defrag-threshold-megabytes', 'uint', 0, 'Defragment at start when that frees at least this many MB (0 disables).', { since: '3.5', supported: true }),
  experimental('experimental-max-learners', 'int', 1, 'Most learners the cluster may hold.', { since: '3.5', supported: true }),
  experimental('experimental-snapshot-catchup-entries', 'uint64', 5000, 'Entries kept after a snapshot so slow followers can catch up.', { since: '3.5', supported: true }),
  experimental('experimental-enable-distributed-tracing', 'bool', false, 'Export OpenTelemetry traces.', { since: '3.5', supported: true, inert: NO_TRACING }),
  experimental('experimental-distributed-tracing-address', 'string', 'localhost:4317', 'OpenTelemetry collector address.', { since: '3.5', supported: true, inert: NO_TRACING }),
  experimental('experimental-distributed-tracing-service-name', 'string', 'etcd', 'Service name reported in traces.', { since: '3.5', supported: true, inert: NO_TRACING }),
  experimental('experimental-distributed-tracing-instance-id', 'string', '', 'Instance ID reported in traces.', { since: '3.5', supported: true, inert: NO_TRACING }),
  experimental('experimental-distributed-tracing-sampling-rate', 'int', 0, 'Spans sampled per million.', { since: '3.5', supported: true, inert: NO_TRACING }),
];

const UNSAFE: FlagSpec[] = [
  { name: 'force-new-cluster', kind: 'bool', default: false, section: 'Unsafe feature', supported: true, help: 'Restart as a one-member cluster, discarding the membership on disk.' },
  { name: 'unsafe-no-fsync', kind: 'bool', default: false, section: 'Unsafe feature', supported: true, hidden: true, help: 'Never fsync; a crash can lose data.' },
];

const DEPRECATED: FlagSpec[] = [
  { name: 'debug', kind: 'bool', default: false, section: 'TO BE DEPRECATED', supported: true, help: "Log at debug level; use '--log-level=debug' instead." },
  { name: 'log-package-levels', kind: 'string', default: '', section: 'TO BE DEPRECATED', supported: true, inert: 'per-package levels belong to capnslog; tsetcd logs zap-style with the one --log-level', help: "Per-package log levels for capnslog (e.g. 'etcdmain=CRITICAL,etcdserver=DEBUG')." },
  { name: 'log-output', kind: 'unique-strings', default: ['default'], yamlType: '[]string', section: 'TO BE DEPRECATED', supported: true, hidden: true, help: "Old name of '--log-outputs'." },
];

const OTHER: FlagSpec[] = [
  { name: 'config-file', kind: 'string', default: '', yamlKey: null, section: 'Usage', supported: true, help: 'Read the configuration from this YAML file; other flags and ETCD_* variables are then ignored.' },
  { name: 'version', kind: 'bool', default: false, yamlKey: null, section: 'Usage', supported: true, help: 'Print the version and exit.' },
  { name: 'enable-grpc-gateway', kind: 'bool', default: true, section: 'Clustering', supported: true, hidden: true, help: 'Serve the JSON gateway to the gRPC API.' },
];

/** Flags etcd still accepts from older releases; setting one only logs a warning. */
const IGNORED_NAMES = [
  'cluster-active-size',
  'cluster-remove-delay',
  'cluster-sync-interval',
  'config',
  'force',
  'max-result-buffer',
  'max-retry-attempts',
  'peer-heartbeat-interval',
  'peer-election-timeout',
  'retry-interval',
  'snapshot',
  'v',
  'vv',
  'test.coverprofile',
  'test.outputdir',
];

const IGNORED: FlagSpec[] = IGNORED_NAMES.map((name) => ({
  name,
  kind: 'ignored',
  default: '',
  yamlKey: null,
  section: 'TO BE DEPRECATED',
  supported: true,
  hidden: true,
  help: 'No longer used; ignored.',
}));

export const FLAGS: readonly FlagSpec[] = [
  ...MEMBER,
  ...CLUSTERING,
  ...SECURITY,
  ...AUTH,
  ...MONITORING,
  ...LOGGING,
  ...PROXY,
  ...EXPERIMENTAL,
  ...UNSAFE,
  ...DEPRECATED,
  ...OTHER,
  ...IGNORED,
];

const BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(FLAGS.map((f) => [f.name, f]));

export function flagSpec(name: string): FlagSpec | undefined {
  return BY_NAME.get(name);
}

/** The spec of a flag that must exist; a typo here is a programming error. */
export function mustFlag(name: string): FlagSpec {
  const f = BY_NAME.get(name);
  if (f === undefined) throw new Error(`config: no flag named ${name}`);
  return f;
}

/** ETCD_<NAME>: upper case, dashes become underscores (etcd's FlagToEnv). */
export function envName(flagName: string): string {
  return 'ETCD_' + flagName.replace(/-/g, '_').toUpperCase();
}

/** The YAML key of a flag, or null when the config file cannot set it. */
export function yamlKeyOf(f: FlagSpec): string | null {
  return f.yamlKey === undefined ? f.name : f.yamlKey;
}

/** The Go type etcd's YAML decoder uses for the flag's key. */
export function yamlGoType(f: FlagSpec): YamlGoType {
  if (f.yamlType !== undefined) return f.yamlType;
  switch (f.kind) {
    case 'bool':
      return 'bool';
    case 'uint':
    case 'uint32':
    case 'uint64':
    case 'int':
    case 'int64':
      return f.kind;
    case 'duration':
      return 'time.Duration';
    case 'strings':
    case 'unique-strings':
      return '[]string';
    default:
      return 'string';
  }
}

/** Initial flag values: every flag at its default. */
export function defaultValues(): Map<string, FlagValue> {
  const m = new Map<string, FlagValue>();
  for (const f of FLAGS) if (f.kind !== 'ignored') m.set(f.name, f.default);
  return m;
}
