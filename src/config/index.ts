// Entry point of the config module: command line + ETCD_* environment, or a
// --config-file, into one validated Config, following etcd 3.4's precedence:
//
//   1. argv is parsed with Go flag rules (errors exit 2 with the usage);
//      a positional argument is an error (exit 1); --version and --help win next.
//   2. If --config-file (or ETCD_CONFIG_FILE) names a file, only the file counts:
//      other flags and ETCD_* variables are ignored.
//   3. Otherwise: command line > ETCD_* > defaults; an ETCD_* variable for a flag
//      also given on the command line is fatal.
//   4. Validation in etcd's order; then the start-time derivations and, unless
//      turned off, the bootstrap checks on --initial-cluster.
//
// Nothing here touches the data directory; the only read is the config file.

import { readFileSync } from 'node:fs';
import { adjustCommandLineDefaults, buildConfig, checkBootstrap } from './build.js';
import { applyEnv } from './env.js';
import { parseArgs } from './goflag.js';
import { validateState } from './validate.js';
import { loadYamlConfig } from './yaml.js';
import type { ConfigSource, FlagState, ParseOptions, ParseResult } from './types.js';

export { FLAGS, envName, flagSpec, yamlKeyOf } from './flags.js';
export { helpText, usageText } from './help.js';
export { checkBootstrap, parseRetention } from './build.js';
export type * from './types.js';

/** Go's wording for the usual ways reading a file fails. */
function readError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return `open ${path}: no such file or directory`;
    case 'EACCES':
      return `open ${path}: permission denied`;
    case 'EISDIR':
      return `read ${path}: is a directory`;
    default:
      return `open ${path}: ${(err as Error).message}`;
  }
}

type Loaded =
  | { ok: true; state: FlagState; source: ConfigSource; keyOf?: ReadonlyMap<string, string> }
  | { ok: false; message: string };

function loadFromFile(path: string, given: FlagState, options: ParseOptions, warnings: string[], notices: string[]): Loaded {
  let text: string;
  try {
    text = (options.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
  } catch (err) {
    return { ok: false, message: readError(path, err) };
  }
  notices.push(
    `loaded server configuration from "${path}"; other configuration command line flags and environment variables will be ignored if provided`,
  );
  const ignored = [...given.explicit].filter((n) => n !== 'config-file');
  if (ignored.length > 0) {
    warnings.push(`ignoring command-line flags because --config-file is set: ${ignored.map((n) => '--' + n).join(', ')}`);
  }
  const y = loadYamlConfig(text);
  return y.ok ? { ok: true, state: y.state, source: 'config-file', keyOf: y.keyOf } : y;
}

/** Parses and validates etcd-style arguments and environment. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv, options: ParseOptions = {}): ParseResult {
  const warnings: string[] = [];
  const notices: string[] = [];
  const fail = (message: string, exitCode = 1, usage = false): ParseResult => ({
    warnings,
    notices,
    error: usage ? { message, exitCode, usage } : { message, exitCode },
  });

  const args = parseArgs(argv);
  warnings.push(...args.warnings);
  if (args.kind === 'help') return { warnings, notices, action: 'help' };
  if (args.kind === 'error') return fail(args.message, 2, true);
  if (args.positional.length > 0) return fail(`'${args.positional[0]}' is not a valid flag`);
  if (args.state.values.get('version') === true) return { warnings, notices, action: 'version' };

  let configFile = args.state.values.get('config-file') as string;
  if (configFile === '') configFile = env['ETCD_CONFIG_FILE'] ?? '';

  let loaded: Loaded;
  if (configFile !== '') {
    loaded = loadFromFile(configFile, args.state, options, warnings, notices);
  } else {
    const e = applyEnv(args.state, env);
    warnings.push(...e.warnings);
    notices.push(...e.notices);
    if (e.error !== undefined) return fail(e.error);
    adjustCommandLineDefaults(args.state);
    loaded = { ok: true, state: args.state, source: 'flags' };
  }
  if (!loaded.ok) return fail(loaded.message);

  const v = validateState(loaded.state, loaded.source, loaded.keyOf);
  warnings.push(...v.warnings);
  if (v.error !== undefined) return fail(v.error);

  const built = buildConfig(loaded.state, loaded.source, configFile === '' ? undefined : configFile);
  if (!built.ok) return fail(built.message);
  warnings.push(...built.warnings);
  notices.push(...built.notices);

  if (options.bootstrapChecks !== false) {
    const b = checkBootstrap(built.config);
    warnings.push(...b.warnings);
    if (b.error !== undefined) return fail(b.error);
  }
  return { config: built.config, warnings, notices };
}
