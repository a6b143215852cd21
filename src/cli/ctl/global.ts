// tsetcdctl's global flags, their ETCDCTL_* environment variables, and the step every
// command that talks to the cluster takes first (etcdctl's clientConfigFromCmd): apply
// the environment, validate the connection flags, read the TLS and auth settings, pick
// the output format, and build the client.
import type { Flag, FlagSet, FlagSpec } from './flags.js';
import type { Command, RunContext } from './cmdtree.js';
import { CtlClient } from './client.js';
import {
  authSettings,
  checkUnsupported,
  dialTimeoutMs,
  secureFlags,
  tlsConfig,
  TlsConfigError,
  type AuthSettings,
  type ConnectionSettings,
  type SecureFlags,
} from './connection.js';
import { capnslogTime, goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { OUTPUT_FORMATS, Printer, type OutputFormat } from './printers.js';

export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'endpoints', kind: 'stringSlice', def: '127.0.0.1:2379', usage: 'gRPC endpoints of the cluster (host:port, http://host:port or https://host:port, comma separated)' },
  { name: 'debug', kind: 'bool', def: 'false', usage: 'print the effective global settings to stderr before running' },
  { name: 'write-out', short: 'w', kind: 'string', def: 'simple', usage: 'output format: fields, json, protobuf, simple or table' },
  { name: 'hex', kind: 'bool', def: 'false', usage: 'show keys and values as hex escapes (simple output)' },
  { name: 'dial-timeout', kind: 'duration', def: '2s', usage: 'how long to wait for a connection to an endpoint' },
  { name: 'command-timeout', kind: 'duration', def: '5s', usage: 'how long a short command may take, not counting the dial' },
  { name: 'keepalive-time', kind: 'duration', def: '2s', usage: 'interval of client keepalive pings' },
  { name: 'keepalive-timeout', kind: 'duration', def: '6s', usage: 'how long to wait for a keepalive answer' },
  { name: 'insecure-transport', kind: 'bool', def: 'true', usage: 'with no TLS files given, talk plain HTTP/2 to host:port endpoints (false: TLS, trusting the system roots)' },
  { name: 'insecure-discovery', kind: 'bool', def: 'true', usage: 'trust SRV records found without TLS' },
  { name: 'insecure-skip-tls-verify', kind: 'bool', def: 'false', usage: 'do not verify the server certificate when TLS is configured (for testing only)' },
  { name: 'cert', kind: 'string', def: '', usage: 'client TLS certificate file (with --key)' },
  { name: 'key', kind: 'string', def: '', usage: 'client TLS key file (with --cert)' },
  { name: 'cacert', kind: 'string', def: '', usage: 'CA bundle to verify TLS servers with (default: the system roots)' },
  { name: 'user', kind: 'string', def: '', usage: 'username[:password] to authenticate as (asks for the password if not given)' },
  { name: 'password', kind: 'string', def: '', usage: 'password of --user (then --user holds only the name)' },
  { name: 'discovery-srv', short: 'd', kind: 'string', def: '', usage: 'domain whose SRV records list the endpoints (_etcd-client-ssl._tcp and _etcd-client._tcp)' },
  { name: 'discovery-srv-name', kind: 'string', def: '', usage: 'suffix of the SRV service names looked up with --discovery-srv' },
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

let discovered: string[] = [];

/** Endpoints found by --discovery-srv: they take the place of --endpoints. */
export function useDiscoveredEndpoints(endpoints: string[]): void {
  discovered = [...endpoints];
}

/** The endpoints after the environment is applied, trimmed as etcdctl trims them. */
export function endpointsOf(flags: FlagSet): string[] {
  if (discovered.length > 0) return [...discovered];
  return flags.get('endpoints').strings.map((e) => e.trim());
}

/**
 * Checks the connection flags that need no file or terminal: what tsetcdctl does not
 * support (exit 4) and TLS file flags given as empty strings (exit 128). Returns the
 * security flags.
 */
export function checkConnectionFlags(flags: FlagSet, endpoints: string[]): SecureFlags {
  checkUnsupported(flags, endpoints);
  return secureFlags(flags);
}

/** etcdctl's newClientCfg: the TLS configuration from the files; a bad one is exit 128. */
export function connectionSettings(secure: SecureFlags, auth: AuthSettings | undefined, flags: FlagSet, exitCode: number = ExitCode.BadArgs): ConnectionSettings {
  let tls;
  try {
    tls = tlsConfig(secure);
  } catch (err) {
    if (err instanceof TlsConfigError) throw new CtlExit(exitCode, err.message);
    throw err;
  }
  const settings: ConnectionSettings = { dialTimeoutMs: dialTimeoutMs(flags) };
  if (tls) settings.tls = tls;
  if (auth) settings.auth = auth;
  return settings;
}

/**
 * The settings every client of a command uses, in etcdctl's order: the security flags,
 * then the user and password (perhaps asked for), then the output format (unless
 * `beforeFiles` is given, which runs there), then the certificate files (a bad one
 * ends the command with `exitCode`).
 */
export function settingsFromFlags(ctx: RunContext, endpoints: string[], beforeFiles?: () => void, exitCode: number = ExitCode.BadArgs): ConnectionSettings {
  const secure = checkConnectionFlags(ctx.flags, endpoints);
  const auth = authSettings(ctx.flags, ctx.io);
  beforeFiles?.();
  return { ...connectionSettings(secure, auth, ctx.flags, exitCode), log: (line) => ctx.io.err(line) };
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
  /** for more clients of the same command */
  settings: ConnectionSettings;
}

/** etcdctl's clientConfigFromCmd + mustClient. */
export function connect(ctx: RunContext): Connection {
  applyEnv(ctx.cmd, ctx.io);
  if (ctx.flags.get('debug').bool) printDebug(ctx.cmd, ctx.io);
  const endpoints = endpointsOf(ctx.flags);
  let printer: Printer | undefined;
  const settings = settingsFromFlags(ctx, endpoints, () => (printer = printerFor(ctx.flags, ctx.io)));
  return { client: new CtlClient(endpoints, settings), printer: printer!, settings };
}
