// ETCD_* environment variables, applied the way etcd applies them: a flag not
// given on the command line takes ETCD_<FLAG_NAME> when that is non-empty; a
// variable for a flag that *was* given is fatal; any other ETCD_ variable is
// reported as unrecognised and otherwise ignored.

import { FLAGS, envName } from './flags.js';
import { convertFlagText } from './goflag.js';
import { goQuote } from './goparse.js';
import type { FlagState } from './types.js';

export interface EnvResult {
  readonly warnings: string[];
  readonly notices: string[];
  /** set when etcd would stop: a shadowed variable, or a value that does not parse */
  readonly error?: string;
}

/** Flags whose variable etcd refuses to honour (ETCD_VERSION would otherwise mean --version). */
const SPECIAL = new Set(['version']);

/** Applies `env` to flags not set on the command line; mutates `state`. */
export function applyEnv(state: FlagState, env: NodeJS.ProcessEnv): EnvResult {
  const warnings: string[] = [];
  const notices: string[] = [];
  const shadowed = new Set([...state.explicit].map(envName));
  const used = new Set<string>();
  let error: string | undefined;

  // etcd visits flags in name order and keeps the last conversion error
  const byName = [...FLAGS].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const spec of byName) {
    const key = envName(spec.name);
    const text = env[key];
    if (shadowed.has(key) || text === undefined || text === '') continue;
    used.add(key);
    if (SPECIAL.has(spec.name)) {
      warnings.push(`cannot set special environment variable ${key}=${text}`);
      continue;
    }
    const r = convertFlagText(spec, text, state.values.get(spec.name));
    if (!r.ok) {
      error = `invalid value ${goQuote(text)} for ${key}: ${r.reason}`;
      continue;
    }
    if (r.warning !== undefined) warnings.push(r.warning);
    if (r.value !== undefined) state.values.set(spec.name, r.value);
    state.explicit.add(spec.name);
    notices.push(`recognized and used environment variable ${key}=${text}`);
  }

  for (const [key, text] of Object.entries(env)) {
    if (text === undefined || used.has(key)) continue;
    if (shadowed.has(key)) {
      const fatal = `conflicting environment variable ${goQuote(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`;
      return { warnings, notices, error: fatal };
    }
    if (`${key}=${text}`.startsWith('ETCD_')) warnings.push(`unrecognized environment variable ${key}=${text}`);
  }
  return error === undefined ? { warnings, notices } : { warnings, notices, error };
}
