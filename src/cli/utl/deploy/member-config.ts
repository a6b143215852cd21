// One static member's server settings (systemd, OpenRC, Docker), as an ordered list of
// etcd flags, and the three ways a target hands them to the server: `--flag=value`
// arguments, `ETCD_*` environment lines, and etcd's `--config-file` YAML (TLS keys nested
// under client-transport-security / peer-transport-security, as etcd reads them).
import net from 'node:net';
import YAML from 'yaml';
import { FLAGS, yamlKeyOf } from '../../../config/flags.js';
import { clientUrl, dashboardFlags, initialCluster, peerUrl, scheme, tuningFlags, type DeploySpec, type MemberSpec } from './spec.js';

export type FlagList = Array<[string, string]>;

/** Where a target puts a member's files. */
export interface MemberPaths {
  dataDir: string;
  walDir?: string;
  /** the directory holding ca.pem, <member>.pem and <member>-key.pem */
  pkiDir: string;
}

/** The address a member binds: its IP, or every address when its host is a name. */
function bindHost(m: MemberSpec): string {
  if (net.isIPv6(m.host)) return `[${m.host}]`;
  return net.isIPv4(m.host) ? m.host : '0.0.0.0';
}

/** The member's listen URLs: its own address, plus loopback so local tools need no IP. */
function listenUrls(s: DeploySpec, m: MemberSpec, port: number, withLoopback: boolean): string {
  const own = `${scheme(s)}://${bindHost(m)}:${port}`;
  if (!withLoopback || bindHost(m) === '0.0.0.0' || m.host === '127.0.0.1') return own;
  return `${own},${scheme(s)}://127.0.0.1:${port}`;
}

export interface MemberFlagOptions {
  /** listen on every address (containers: the host's address is not the container's) */
  bindAll?: boolean;
  /** a plain-HTTP /metrics, /health, /livez, /readyz listener for probes */
  metricsUrl?: string;
}

export function memberFlags(s: DeploySpec, m: MemberSpec, p: MemberPaths, o: MemberFlagOptions = {}): FlagList {
  const any = `${scheme(s)}://0.0.0.0`;
  const out: FlagList = [
    ['name', m.name],
    ['data-dir', p.dataDir],
  ];
  if (p.walDir !== undefined) out.push(['wal-dir', p.walDir]);
  out.push(
    ['listen-client-urls', o.bindAll ? `${any}:${m.clientPort}` : listenUrls(s, m, m.clientPort, true)],
    ['advertise-client-urls', clientUrl(s, m)],
    ['listen-peer-urls', o.bindAll ? `${any}:${m.peerPort}` : listenUrls(s, m, m.peerPort, false)],
    ['initial-advertise-peer-urls', peerUrl(s, m)],
    ['initial-cluster', initialCluster(s)],
    ['initial-cluster-token', s.name],
    ['initial-cluster-state', 'new'],
  );
  if (o.metricsUrl !== undefined) out.push(['listen-metrics-urls', o.metricsUrl]);
  // the dashboard binds like the client URLs: the member's address (containers: every address)
  out.push(...dashboardFlags(s, o.bindAll ? '0.0.0.0' : bindHost(m)));
  if (s.tls) {
    const ca = `${p.pkiDir}/ca.pem`;
    const cert = `${p.pkiDir}/${m.name}.pem`;
    const key = `${p.pkiDir}/${m.name}-key.pem`;
    out.push(
      ['client-cert-auth', 'true'],
      ['trusted-ca-file', ca],
      ['cert-file', cert],
      ['key-file', key],
      ['peer-client-cert-auth', 'true'],
      ['peer-trusted-ca-file', ca],
      ['peer-cert-file', cert],
      ['peer-key-file', key],
    );
  }
  out.push(...tuningFlags(s));
  return out;
}

export const envName = (flag: string): string => `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;

/** KEY=value lines for an EnvironmentFile or conf.d file (values here never need quoting). */
export function envLines(flags: FlagList): string {
  return flags.map(([k, v]) => `${envName(k)}=${v}\n`).join('');
}

export const flagArgs = (flags: FlagList): string[] => flags.map(([k, v]) => `--${k}=${v}`);

/** etcd's YAML config file for these flags. */
export function configYaml(flags: FlagList): string {
  const doc: Record<string, unknown> = {};
  for (const [name, value] of flags) {
    const spec = FLAGS.find((f) => f.name === name);
    if (spec === undefined) throw new Error(`no such etcd flag: ${name}`);
    const key = yamlKeyOf(spec);
    if (key === null) throw new Error(`--${name} has no config-file key`);
    const typed = spec.kind === 'bool' ? value === 'true' : /^(int|int64|uint|uint64|uint32)$/.test(spec.kind) ? Number(value) : value;
    const dot = key.indexOf('.');
    if (dot < 0) doc[key] = typed;
    else {
      const parent = (doc[key.slice(0, dot)] ??= {}) as Record<string, unknown>;
      parent[key.slice(dot + 1)] = typed;
    }
  }
  return YAML.stringify(doc, { lineWidth: 0 });
}
