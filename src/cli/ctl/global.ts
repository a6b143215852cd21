// tsetcdctl's global flags, their ETCDCTL_* environment variables, and the step every
// command that talks to the cluster takes first (etcdctl's clientConfigFromCmd): apply
// the environment, validate the connection flags, pick the output format, and build
// the client.
import type { Flag, FlagSet, FlagSpec } from './flags.js';
import type { Command, RunContext } from './cmdtree.js';
import { CtlClient } from './client.js';
import { capnslogTime, goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { OUTPUT_FORMATS, Printer, type OutputFormat } from './printers.js';

export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'endpoints', kind: 'stringSlice', def: '127.0.0.1:2379', usage: 'gRPC endpoints of the cluster (host:port or http://host:port, comma separated)' },
  { name: 'debug', kind: 'bool', def: 'false', usage: 'print the effective global settings to stderr before running' },
  { name: 'write-out', short: 'w', kind: 'string', def: 'simple', usage: 'output format: fields, json, protobuf, simple or table' },
  { name: 'hex', kind: 'bool', def: 'false', usage: 'show keys and values as hex escapes (simple output)' },
  { name: 'dial-timeout', kind: 'duration', def: '2s', usage: 'how long to wait for a connection to an endpoint' },
  { name: 'command-timeout', kind: 'duration', def: '5s', usage: 'how long a short command may take, not counting the dial' },
  { name: 'keepalive-time', kind: 'duration', def: '2s', usage: 'interval of client keepalive pings' },
  { name: 'keepalive-timeout', kind: 'duration', def: '6s', usage: 'how long to wait for a keepalive answer' },
  { name: 'insecure-transport', kind: 'bool', def: 'true', usage: 'talk plain HTTP/2 without TLS' },
  { name: 'insecure-discovery', kind: 'bool', def: 'true', usage: 'trust SRV records found without TLS' },
  { name: 'insecure-skip-tls-verify', kind: 'bool', def: 'false', usage: 'do not verify the server certificate (for testing only)' },
  { name: 'cert', kind: 'string', def: '', usage: 'client TLS certificate file (not supported yet)' },
  { name: 'key', kind: 'string', def: '', usage: 'client TLS key file (not supported yet)' },
  { name: 'cacert', kind: 'string', def: '', usage: 'CA bundle to verify TLS servers with (not supported yet)' },
  { name: 'user', kind: 'string', def: '', usage: 'user[:password] to authenticate as (not supported yet)' },
  { name: 'password', kind: 'string', def: '', usage: 'password of --user (not supported yet)' },
  { name: 'discovery-srv', short: 'd', kind: 'string', def: '', usage: 'domain whose SRV records list the endpoints (not supported yet)' },
  { name: 'discovery-srv-name', kind: 'string', def: '', usage: 'service name used with --discovery-srv (not supported yet)' },
];

const ENV_PREFIX = 'ETCDCTL';

/** --dial-timeout → ETCDCTL_DIAL_TIMEOUT */
export function flagToEnv(name: string): string {
  return `${ENV_PREFIX}_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Fills the command's inherited flags from ETCDCTL_* variables, as etcdctl's
 * SetPflagsFromEnv does: a flag given on the command line wins, but a variable that a
 * command-line flag shadows is a fatal error; a variable with a bad value is ignored;
 * other ETCDCTL_* variables draw a warning. ETCDCTL_API only selects the API version.
 */
export function applyEnv(cmd: Command, io: Io): void {
  const used = new Set<string>();
  const shadowed = new Set<string>();
  for (const f of sortedInherited(cmd)) {
    const key = flagToEnv(f.spec.name);
    if (f.changed) {
      shadowed.add(key);
      continue;
    }
    const value = io.env.find(([k]) => k === key)?.[1];
    if (value === undefined || value === '') continue;
    used.add(key);
    try {
      f.set(value);
    } catch {
      /* etcdctl ignores an unparsable value and keeps the default */
    }
  }
  for (const [k, v] of io.env) {
    if (k === `${ENV_PREFIX}_API` || used.has(k)) continue;
    if (shadowed.has(k)) {
      io.err(
        `${capnslogTime()} C | pkg/flags: conflicting environment variable ${goQuote(k)} is shadowed by corresponding ` +
          'command-line flag (either unset environment variable or disable flag)\n',
      );
      throw new CtlExit(ExitCode.Error);
    }
    if (`${k}=${v}`.startsWith(`${ENV_PREFIX}_`)) io.err(`${capnslogTime()} W | pkg/flags: unrecognized environment variable ${k}=${v}\n`);
  }
}

function sortedInherited(cmd: Command): Flag[] {
  return cmd.inheritedFlags().sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
}

/** --command-timeout as milliseconds from now (etcdctl's commandCtx). */
export function commandDeadline(flags: FlagSet): number {
  return Date.now() + Number(flags.get('command-timeout').duration / 1_000_000n);
}

function notSupported(what: string): never {
  throw new CtlExit(ExitCode.BadFeature, `${what} is not supported by tsetcdctl yet`);
}

/** The endpoints after the environment is applied, trimmed as etcdctl trims them. */
export function endpointsOf(flags: FlagSet): string[] {
  return flags.get('endpoints').strings.map((e) => e.trim());
}

/** Checks the TLS, auth and discovery flags: empty paths are errors, the rest unsupported. */
export function checkConnectionFlags(flags: FlagSet, endpoints: string[]): void {
  if (flags.get('discovery-srv').string !== '') notSupported('--discovery-srv');
  for (const name of ['cert', 'key', 'cacert']) {
    const f = flags.get(name);
    if (f.changed && f.string === '') throw new CtlExit(ExitCode.BadArgs, `empty string is passed to --${name} option`);
  }
  for (const name of ['cert', 'key', 'cacert']) if (flags.get(name).string !== '') notSupported(`--${name} (TLS)`);
  if (!flags.get('insecure-transport').bool) notSupported('--insecure-transport=false (TLS)');
  if (flags.get('user').string !== '') notSupported('--user (authentication)');
  for (const ep of endpoints) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(ep)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http') notSupported(`endpoint ${ep} (only http:// endpoints)`);
  }
}

/** The output format picked by -w, or exit 4 for an unknown one. */
export function printerFor(flags: FlagSet, io: Io): Printer {
  const format = flags.get('write-out').string;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new CtlExit(ExitCode.BadFeature, 'unsupported output format');
  return new Printer(format as OutputFormat, io, { hex: flags.get('hex').bool, valueOnly: false });
}

/** With --debug, the settings as ETCDCTL_* assignments on stderr, as etcdctl prints them. */
function printDebug(cmd: Command, io: Io): void {
  for (const f of sortedInherited(cmd)) io.err(`${flagToEnv(f.spec.name)}=${f.toString()}\n`);
}

export interface Connection {
  client: CtlClient;
  printer: Printer;
}

/** etcdctl's clientConfigFromCmd + mustClient. */
export function connect(ctx: RunContext): Connection {
  applyEnv(ctx.cmd, ctx.io);
  if (ctx.flags.get('debug').bool) printDebug(ctx.cmd, ctx.io);
  const endpoints = endpointsOf(ctx.flags);
  checkConnectionFlags(ctx.flags, endpoints);
  const printer = printerFor(ctx.flags, ctx.io);
  return { client: new CtlClient(endpoints), printer };
}
