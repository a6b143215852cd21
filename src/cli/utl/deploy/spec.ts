// The cluster spec behind `tsetcdutl deploy`: one validated description of a cluster
// (members and their addresses, TLS, the root password, directories and the usual
// server flags), read from command-line flags and/or a YAML file. A flag given on the
// command line wins over the same key in the file. Every problem is reported as a
// sentence naming the flag or key, never as a stack trace.
import fs from 'node:fs';
import net from 'node:net';
import YAML from 'yaml';

export const TARGETS = ['systemd', 'openrc', 'docker', 'kubernetes', 'helm'] as const;
export type Target = (typeof TARGETS)[number];

export interface MemberSpec {
  name: string;
  /** IP address or DNS name the member is reached at */
  host: string;
  clientPort: number;
  peerPort: number;
}

export interface DeploySpec {
  /** cluster name: the initial cluster token, and the StatefulSet/release name in Kubernetes */
  name: string;
  members: MemberSpec[];
  /** every member's web dashboard port (same TLS and auth as its client URLs); 0: off */
  dashboardPort: number;
  tls: boolean;
  rootPassword?: string;
  dataDir: string;
  walDir?: string;
  /** where static targets install certificates and config (/etc/tsetcd) */
  configDir: string;
  /** where the install script puts tsetcd, tsetcdctl, tsetcdutl */
  binDir: string;
  quotaBackendBytes?: number;
  autoCompactionMode?: 'periodic' | 'revision';
  autoCompactionRetention?: string;
  snapshotCount?: number;
  /** container image for docker/kubernetes/helm */
  image: string;
  namespace: string;
  /** PersistentVolumeClaim size in Kubernetes */
  storageSize: string;
}

/** The keys of the YAML file; each is also a flag of the same name. */
export const SPEC_KEYS = [
  'name',
  'members',
  'replicas',
  'tls',
  'root-password',
  'root-password-file',
  'data-dir',
  'wal-dir',
  'config-dir',
  'bin-dir',
  'client-port',
  'peer-port',
  'dashboard-port',
  'quota-backend-bytes',
  'auto-compaction-mode',
  'auto-compaction-retention',
  'snapshot-count',
  'image',
  'namespace',
  'storage-size',
] as const;
export type SpecKey = (typeof SPEC_KEYS)[number];
export type RawSpec = Partial<Record<SpecKey, unknown>>;

export const DEFAULT_IMAGE = 'localhost/tsetcd:0.1.0';
/** after etcd's 2379 (client), 2380 (peer) and the 2381 that kubeadm and these targets give /metrics */
export const DEFAULT_DASHBOARD_PORT = 2382;

export class SpecError extends Error {
  override name = 'SpecError';
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Reads a YAML spec file; unknown keys are refused so a typo never passes silently. */
export function readSpecFile(file: string): RawSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SpecError(`cannot read spec file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new SpecError(`spec file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new SpecError(`spec file ${file} must hold a mapping of keys (${SPEC_KEYS.join(', ')})`);
  for (const key of Object.keys(doc)) {
    if (!(SPEC_KEYS as readonly string[]).includes(key)) throw new SpecError(`spec file ${file}: unknown key "${key}" (known: ${SPEC_KEYS.join(', ')})`);
  }
  return doc as RawSpec;
}

function str(raw: RawSpec, key: SpecKey): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new SpecError(`${key} must be a single value, got ${JSON.stringify(v)}`);
}

function int(raw: RawSpec, key: SpecKey, min: number, max: number): number | undefined {
  const s = str(raw, key);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new SpecError(`${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(s)}`);
  return v;
}

function bool(raw: RawSpec, key: SpecKey): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new SpecError(`${key} must be true or false, got ${JSON.stringify(v)}`);
}

/** "m1=10.0.0.11,m2=10.0.0.12" or a YAML list of {name, host, client-port, peer-port}. */
function parseMembers(raw: RawSpec, clientPort: number, peerPort: number): MemberSpec[] {
  const v = raw.members;
  if (v === undefined || v === null || v === '') return [];
  const items: Array<Record<string, unknown>> = [];
  if (typeof v === 'string') {
    for (const part of v.split(',').filter((p) => p.trim() !== '')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new SpecError(`members: "${part}" is not NAME=HOST (as in m1=10.0.0.11)`);
      items.push({ name: part.slice(0, eq).trim(), host: part.slice(eq + 1).trim() });
    }
  } else if (Array.isArray(v)) {
    for (const item of v) {
      if (typeof item !== 'object' || item === null) throw new SpecError(`members: each entry needs name and host, got ${JSON.stringify(item)}`);
      items.push(item as Record<string, unknown>);
    }
  } else throw new SpecError('members must be NAME=HOST,... or a list of {name, host}');
  return items.map((item) => member(item, clientPort, peerPort));
}

function member(item: Record<string, unknown>, clientPort: number, peerPort: number): MemberSpec {
  const name = String(item['name'] ?? '');
  const host = String(item['host'] ?? '');
  if (!NAME_RE.test(name)) throw new SpecError(`members: name "${name}" must be lower-case letters, digits and '-' (it becomes a host and file name)`);
  if (host === '' || !(net.isIP(host) || /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(host))) throw new SpecError(`members: ${name} needs an IP address or DNS name, got "${host}"`);
  const port = (key: string, def: number): number => {
    const p = item[key] === undefined ? def : Number(item[key]);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new SpecError(`members: ${name} ${key} must be a port number, got ${JSON.stringify(item[key])}`);
    return p;
  };
  return { name, host, clientPort: port('client-port', clientPort), peerPort: port('peer-port', peerPort) };
}

/** Members of a Kubernetes StatefulSet: <name>-0 ... reached through the headless service. */
export function statefulSetMembers(name: string, replicas: number, namespace: string, clientPort: number, peerPort: number): MemberSpec[] {
  return Array.from({ length: replicas }, (_, i) => ({
    name: `${name}-${i}`,
    host: `${name}-${i}.${name}-headless.${namespace}.svc.cluster.local`,
    clientPort,
    peerPort,
  }));
}

function rootPassword(raw: RawSpec): string | undefined {
  const inline = str(raw, 'root-password');
  const file = str(raw, 'root-password-file');
  if (inline !== undefined && file !== undefined) throw new SpecError('give root-password or root-password-file, not both');
  if (file === undefined) return inline;
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new SpecError(`cannot read root-password-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function compactionMode(raw: RawSpec): DeploySpec['autoCompactionMode'] {
  const m = str(raw, 'auto-compaction-mode');
  if (m === undefined || m === 'periodic' || m === 'revision') return m;
  throw new SpecError(`auto-compaction-mode must be periodic or revision, got "${m}"`);
}

function absolute(raw: RawSpec, key: SpecKey, def?: string): string | undefined {
  const v = str(raw, key) ?? def;
  if (v !== undefined && !v.startsWith('/')) throw new SpecError(`${key} must be an absolute path, got "${v}"`);
  return v;
}

/** Validates the merged raw spec for `target`. */
export function buildSpec(raw: RawSpec, target: Target): DeploySpec {
  const name = str(raw, 'name') ?? 'tsetcd';
  if (!NAME_RE.test(name) || name.length > 40) throw new SpecError(`name "${name}" must be lower-case letters, digits and '-', at most 40 characters`);
  const clientPort = int(raw, 'client-port', 1, 65535) ?? 2379;
  const peerPort = int(raw, 'peer-port', 1, 65535) ?? 2380;
  const dashboardPort = int(raw, 'dashboard-port', 0, 65535) ?? DEFAULT_DASHBOARD_PORT;
  const namespace = str(raw, 'namespace') ?? 'default';
  if (!NAME_RE.test(namespace)) throw new SpecError(`namespace "${namespace}" is not a valid Kubernetes namespace name`);
  const k8s = target === 'kubernetes' || target === 'helm';
  let members = parseMembers(raw, clientPort, peerPort);
  const replicas = int(raw, 'replicas', 1, 9);
  if (k8s) {
    // a StatefulSet names its pods; --members only gives their count here
    members = statefulSetMembers(name, replicas ?? (members.length || 3), namespace, clientPort, peerPort);
  } else if (replicas !== undefined) {
    throw new SpecError(`replicas is for kubernetes and helm; ${target} takes its members from members (NAME=HOST,...)`);
  }
  if (members.length === 0) throw new SpecError('members is required, as in --members m1=10.0.0.11,m2=10.0.0.12,m3=10.0.0.13');
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.name)) throw new SpecError(`members: ${m.name} is given twice`);
    seen.add(m.name);
  }
  const dataDir = absolute(raw, 'data-dir', '/var/lib/tsetcd')!;
  const walDir = absolute(raw, 'wal-dir');
  const spec: DeploySpec = {
    name,
    members,
    dashboardPort,
    tls: bool(raw, 'tls'),
    dataDir,
    configDir: absolute(raw, 'config-dir', '/etc/tsetcd')!,
    binDir: absolute(raw, 'bin-dir', '/usr/local/bin')!,
    image: str(raw, 'image') ?? DEFAULT_IMAGE,
    namespace,
    storageSize: str(raw, 'storage-size') ?? '8Gi',
  };
  const password = rootPassword(raw);
  if (password !== undefined) spec.rootPassword = password;
  if (walDir !== undefined) spec.walDir = walDir;
  const quota = int(raw, 'quota-backend-bytes', 0, 2 ** 53 - 1);
  if (quota !== undefined) spec.quotaBackendBytes = quota;
  const mode = compactionMode(raw);
  if (mode !== undefined) spec.autoCompactionMode = mode;
  const retention = str(raw, 'auto-compaction-retention');
  if (retention !== undefined) spec.autoCompactionRetention = retention;
  const snap = int(raw, 'snapshot-count', 1, 2 ** 53 - 1);
  if (snap !== undefined) spec.snapshotCount = snap;
  return spec;
}

export const scheme = (s: DeploySpec): string => (s.tls ? 'https' : 'http');
export const clientUrl = (s: DeploySpec, m: MemberSpec): string => `${scheme(s)}://${hostPort(m.host, m.clientPort)}`;
export const peerUrl = (s: DeploySpec, m: MemberSpec): string => `${scheme(s)}://${hostPort(m.host, m.peerPort)}`;
/** The member flags that turn the dashboard on (and the latency histogram its charts read). */
export const dashboardFlags = (s: DeploySpec, host: string): Array<[string, string]> =>
  s.dashboardPort === 0 ? [] : [['listen-dashboard-urls', `${scheme(s)}://${host}:${s.dashboardPort}`], ['metrics', 'extensive']];
export const initialCluster = (s: DeploySpec): string => s.members.map((m) => `${m.name}=${peerUrl(s, m)}`).join(',');

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The server settings every target passes, as etcd flag name → value. */
export function tuningFlags(s: DeploySpec): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (s.quotaBackendBytes !== undefined) out.push(['quota-backend-bytes', String(s.quotaBackendBytes)]);
  if (s.autoCompactionMode !== undefined) out.push(['auto-compaction-mode', s.autoCompactionMode]);
  if (s.autoCompactionRetention !== undefined) out.push(['auto-compaction-retention', s.autoCompactionRetention]);
  if (s.snapshotCount !== undefined) out.push(['snapshot-count', String(s.snapshotCount)]);
  return out;
}
