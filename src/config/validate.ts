// Checks on the merged flag values, in etcd's order and with etcd's words
// (embed.Config.Validate and its logging setup), preceded by our own rule: the
// v2 proxy's flags (the only ones tsetcd does not implement) may only carry
// their default values.

import { FLAGS } from './flags.js';
import { formatGoDuration, goQuote } from './goparse.js';
import { bindUrlProblem, hostUrlProblem } from './urls.js';
import { parseRotationConfig } from '../pkg/log-rotation.js';
import type { ConfigSource, FlagState, FlagValue } from './types.js';

export interface ValidateResult {
  readonly error?: string;
  readonly warnings: string[];
}

/** etcd's largest allowed election timeout, in milliseconds. */
export const MAX_ELECTION_TIMEOUT_MS = 50000;
/** Above this etcd warns that requests are larger than recommended. */
export const RECOMMENDED_MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** Above this etcd warns that the backend quota is larger than recommended. */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] as const;

function sameValue(a: FlagValue | undefined, b: FlagValue | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/**
 * Names every unsupported flag (the v2 proxy's) whose value is not its default,
 * and what to run instead. In config-file mode the YAML key is named instead.
 */
export function unsupportedProblem(state: FlagState, yamlKeyOf?: ReadonlyMap<string, string>): string | undefined {
  const names: string[] = [];
  for (const f of FLAGS) {
    if (f.supported || f.kind === 'ignored') continue;
    if (sameValue(state.values.get(f.name), f.default)) continue;
    names.push(yamlKeyOf?.get(f.name) ?? `--${f.name}`);
  }
  if (names.length === 0) return undefined;
  return `tsetcd: ${names.join(', ')} ${names.length === 1 ? 'is a v2 proxy setting' : 'are v2 proxy settings'}, and the v2 proxy is not supported (etcd 3.6 removed it too): run \`tsetcd grpc-proxy start\` or \`tsetcd gateway start\` in front of the cluster, or point clients at the members`;
}

/** Go's %q of a []string: ["a" "b"]. */
function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

function str(state: FlagState, name: string): string {
  return state.values.get(name) as string;
}
function num(state: FlagState, name: string): number {
  return state.values.get(name) as number;
}
function list(state: FlagState, name: string): readonly string[] {
  return state.values.get(name) as readonly string[];
}

/** etcd's logging setup checks, plus its deprecation warnings. */
function loggingProblem(state: FlagState, warnings: string[]): string | undefined {
  const logger = str(state, 'logger');
  const debug = state.values.get('debug') === true;
  const level = str(state, 'log-level');
  const outputs = list(state, 'log-outputs');
  if (debug) {
    warnings.push(`Deprecated '--debug' flag is set to true (use '--log-level=debug' instead`);
    if (level !== 'debug') warnings.push(`Deprecated '--debug' flag is set to true with inconsistent '--log-level=${level}' flag`);
  }
  if (logger === 'capnslog') {
    warnings.push(`Deprecated '--logger=capnslog' flag is set; use '--logger=zap' flag instead`);
    if (outputs.length !== 1) return `--logger=capnslog supports only 1 value in '--log-outputs', got ${goQuoteList(outputs)}`;
    if (!['default', 'stderr', 'stdout'].includes(outputs[0]!)) {
      return `unknown log-output ${goQuote(outputs[0]!)} (only supports "default", "stderr", "stdout")`;
    }
  } else if (logger === 'zap') {
    if (outputs.length > 1 && outputs.includes('default')) return `multi logoutput for "default" is not supported yet`;
    if (outputs.length > 1 && outputs.includes('systemd/journal')) {
      return `running with systemd/journal but other '--log-outputs' values (${goQuoteList(outputs)}) are configured with 'default'; override 'default' value with something else`;
    }
  } else {
    return `unknown logger option ${goQuote(logger)}`;
  }
  if (!(LOG_LEVELS as readonly string[]).includes(level)) return `unknown level ${goQuote(level)}`;
  if (state.values.get('enable-log-rotation') === true) return rotationProblem(outputs, str(state, 'log-rotation-config-json'));
  return undefined;
}

/** etcd's setupLogRotation: exactly one file output, and a config that decodes. */
function rotationProblem(outputs: readonly string[], json: string): string | undefined {
  const files = outputs.filter((o) => !['default', 'stderr', 'stdout'].includes(o)).length;
  if ((outputs.length === 1 && files === 0) || files > 1) {
    return '--log-outputs requires a single file path when --log-rotate-config-json is defined';
  }
  const parsed = parseRotationConfig(json);
  return typeof parsed === 'string' ? parsed : undefined;
}

function urlProblem(state: FlagState): string | undefined {
  for (const name of ['listen-peer-urls', 'listen-client-urls', 'listen-client-http-urls', 'listen-metrics-urls', 'listen-dashboard-urls']) {
    const p = bindUrlProblem(list(state, name));
    if (p !== undefined) return p;
  }
  for (const name of ['initial-advertise-peer-urls', 'advertise-client-urls']) {
    const urls = list(state, name);
    const p = hostUrlProblem(urls);
    if (p !== undefined) return `--${name} ${goQuote(urls.join(','))} must be "host:port" (${p})`;
  }
  return undefined;
}

function timingProblem(state: FlagState): string | undefined {
  const tickMs = num(state, 'heartbeat-interval');
  const electionMs = num(state, 'election-timeout');
  if (tickMs <= 0) return `--heartbeat-interval must be >0 (set to ${tickMs}ms)`;
  if (electionMs <= 0) return `--election-timeout must be >0 (set to ${electionMs}ms)`;
  if (5 * tickMs > electionMs) {
    return `--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${tickMs}ms]`;
  }
  if (electionMs > MAX_ELECTION_TIMEOUT_MS) {
    return `--election-timeout[${electionMs}ms] is too long, and should be set less than ${MAX_ELECTION_TIMEOUT_MS}ms`;
  }
  return undefined;
}

function clusteringProblem(state: FlagState): string | undefined {
  const clusterState = str(state, 'initial-cluster-state');
  if (clusterState !== 'new' && clusterState !== 'existing') return `unexpected clusterState ${goQuote(clusterState)}`;
  const bootstrapWays = [str(state, 'discovery'), str(state, 'initial-cluster'), str(state, 'discovery-srv')];
  if (bootstrapWays.filter((v) => v !== '').length > 1) {
    return 'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
  }
  return undefined;
}

/** etcd's rule and warning for the two lease checkpoint flags. */
function leaseCheckpointProblem(state: FlagState, warnings: string[]): string | undefined {
  const enabled = state.values.get('experimental-enable-lease-checkpoint') === true;
  const persist = state.values.get('experimental-enable-lease-checkpoint-persist') === true;
  if (enabled && !persist) {
    warnings.push('Detected that checkpointing is enabled without persistence. Consider enabling experimental-enable-lease-checkpoint-persist');
  }
  if (persist && !enabled) return 'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint';
  return undefined;
}

function warnAboutSizes(state: FlagState, warnings: string[]): void {
  const maxRequestBytes = num(state, 'max-request-bytes');
  if (maxRequestBytes > RECOMMENDED_MAX_REQUEST_BYTES) {
    warnings.push(`MaxRequestBytes ${maxRequestBytes} exceeds maximum recommended size ${RECOMMENDED_MAX_REQUEST_BYTES}`);
  }
  const quota = num(state, 'quota-backend-bytes');
  if (quota > MAX_QUOTA_BYTES) {
    warnings.push(`backend quota ${quota} exceeds maximum recommended quota ${MAX_QUOTA_BYTES}`);
  }
}

/**
 * Validates merged values: the first problem found, in etcd's order, and the
 * warnings etcd would log. Pure: reads nothing but `state`.
 */
export function validateState(
  state: FlagState,
  source: ConfigSource,
  yamlKeyOf?: ReadonlyMap<string, string>,
): ValidateResult {
  const warnings: string[] = [];
  const unsupported = unsupportedProblem(state, source === 'config-file' ? yamlKeyOf : undefined);
  if (unsupported !== undefined) return { error: unsupported, warnings };
  const steps = [
    () => loggingProblem(state, warnings),
    () => urlProblem(state),
    () => clusteringProblem(state),
    () => timingProblem(state),
    () =>
      list(state, 'listen-client-urls').length > 0 && list(state, 'advertise-client-urls').length === 0
        ? '--advertise-client-urls is required when --listen-client-urls is set explicitly'
        : undefined,
    () => {
      const mode = str(state, 'auto-compaction-mode');
      return ['', 'periodic', 'revision'].includes(mode) ? undefined : `unknown auto-compaction-mode ${goQuote(mode)}`;
    },
    () => {
      const cn = str(state, 'peer-cert-allowed-cn');
      const hostname = str(state, 'peer-cert-allowed-hostname');
      return cn !== '' && hostname !== ''
        ? `AllowedCN and AllowedHostname are mutually exclusive (cn=${goQuote(cn)}, hostname=${goQuote(hostname)})`
        : undefined;
    },
    () => leaseCheckpointProblem(state, warnings),
    () => {
      const ns = num(state, 'experimental-compact-hash-check-time');
      return ns <= 0 ? `--experimental-compact-hash-check-time must be >0 (set to ${formatGoDuration(ns)})` : undefined;
    },
    () => {
      const metrics = str(state, 'metrics');
      return metrics === 'basic' || metrics === 'extensive'
        ? undefined
        : `--metrics must be 'basic' or 'extensive' (got ${goQuote(metrics)})`;
    },
  ];
  for (const step of steps) {
    const problem = step();
    if (problem !== undefined) return { error: problem, warnings };
  }
  warnAboutSizes(state, warnings);
  return { warnings };
}
