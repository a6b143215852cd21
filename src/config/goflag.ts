// Command-line parsing with the rules of Go's `flag` package, which etcd uses:
// `-name` and `--name` are the same; `--name=value` or `--name value` for
// non-boolean flags; booleans only as `--name` or `--name=<bool>`; parsing stops
// at the first argument that is not a flag, or after `--`; `-h`/`--help` asks
// for help. Error texts are Go's, so scripts matching on them keep working.

import { flagSpec, defaultValues } from './flags.js';
import { goQuote, parseGoBool, parseGoDuration, parseGoInt, parseGoUint } from './goparse.js';
import { parseEtcdUrlList } from './urls.js';
import type { FlagSpec, FlagState, FlagValue } from './types.js';

export type SetResult =
  | { readonly ok: true; readonly value: FlagValue | undefined; readonly warning?: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Converts a flag's text to its value the way the flag's Go type does.
 * `value: undefined` means the flag keeps its current value (ignored flags,
 * and URL flags given one of their exception strings).
 */
export function convertFlagText(spec: FlagSpec, text: string, current: FlagValue | undefined): SetResult {
  switch (spec.kind) {
    case 'string':
      return { ok: true, value: text };
    case 'bool': {
      const b = parseGoBool(text);
      return b === undefined ? { ok: false, reason: 'parse error' } : { ok: true, value: b };
    }
    case 'uint':
    case 'uint64': {
      const r = parseGoUint(text, 64);
      return r.ok ? { ok: true, value: r.value } : { ok: false, reason: numReason(r.reason) };
    }
    case 'uint32': {
      // etcd's own uint32 flag type returns strconv's error unchanged
      const r = parseGoUint(text, 32);
      if (r.ok) return { ok: true, value: r.value };
      const why = r.reason === 'syntax' ? 'invalid syntax' : 'value out of range';
      return { ok: false, reason: `strconv.ParseUint: parsing ${goQuote(text)}: ${why}` };
    }
    case 'int':
    case 'int64': {
      const r = parseGoInt(text, 64);
      return r.ok ? { ok: true, value: r.value } : { ok: false, reason: numReason(r.reason) };
    }
    case 'duration': {
      const r = parseGoDuration(text);
      return r.ok ? { ok: true, value: r.ns } : { ok: false, reason: 'parse error' };
    }
    case 'choice':
      return spec.choices!.includes(text) ? { ok: true, value: text } : { ok: false, reason: 'invalid value' };
    case 'urls':
      return convertUrls(spec, text, current);
    case 'strings':
      return { ok: true, value: text.split(',') };
    case 'unique-strings':
      return { ok: true, value: [...new Set(text.split(','))].sort() };
    case 'ignored':
      return { ok: true, value: undefined, warning: `flag "-${spec.name}" is no longer supported - ignoring.` };
  }
}

function numReason(reason: 'syntax' | 'range'): string {
  return reason === 'syntax' ? 'parse error' : 'value out of range';
}

function convertUrls(spec: FlagSpec, text: string, current: FlagValue | undefined): SetResult {
  // etcd keeps the list unchanged when the text equals one URL it already holds
  if (Array.isArray(current) && current.includes(text)) return { ok: true, value: current };
  if (spec.urlExceptions?.includes(text)) {
    // etcd records the exception but keeps the URLs it had ('' leaves the list alone)
    return { ok: true, value: text === '' ? undefined : [text] };
  }
  const r = parseEtcdUrlList(text);
  return r.ok ? { ok: true, value: r.urls.map((u) => u.text) } : { ok: false, reason: r.message };
}

export type ArgsResult =
  | { readonly kind: 'ok'; readonly state: FlagState; readonly positional: string[]; readonly warnings: string[] }
  | { readonly kind: 'help'; readonly warnings: string[] }
  | { readonly kind: 'error'; readonly message: string; readonly warnings: string[] };

/** Parses argv (without the program name) into flag values, like flag.FlagSet.Parse. */
export function parseArgs(argv: readonly string[]): ArgsResult {
  const state: FlagState = { values: defaultValues(), explicit: new Set() };
  const warnings: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    if (arg.length < 2 || arg[0] !== '-') break;
    const dashes = arg[1] === '-' ? 2 : 1;
    if (dashes === 2 && arg.length === 2) {
      i++;
      break; // "--" ends the flags and is consumed
    }
    let name = arg.slice(dashes);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') {
      return { kind: 'error', message: `bad flag syntax: ${arg}`, warnings };
    }
    i++;
    let value: string | undefined;
    const eq = name.indexOf('=', 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = flagSpec(name);
    if (spec === undefined) {
      if (name === 'help' || name === 'h') return { kind: 'help', warnings };
      return { kind: 'error', message: `flag provided but not defined: -${name}`, warnings };
    }
    const takesNoArgument = spec.kind === 'bool' || spec.kind === 'ignored';
    if (takesNoArgument) {
      value ??= 'true';
    } else if (value === undefined) {
      if (i >= argv.length) return { kind: 'error', message: `flag needs an argument: -${name}`, warnings };
      value = argv[i++]!;
    }
    const r = convertFlagText(spec, value, state.values.get(name));
    if (!r.ok) {
      const message =
        spec.kind === 'bool'
          ? `invalid boolean value ${goQuote(value)} for -${name}: ${r.reason}`
          : `invalid value ${goQuote(value)} for flag -${name}: ${r.reason}`;
      return { kind: 'error', message, warnings };
    }
    if (r.warning !== undefined) warnings.push(r.warning);
    if (r.value !== undefined) state.values.set(name, r.value);
    state.explicit.add(name);
  }
  return { kind: 'ok', state, positional: argv.slice(i), warnings };
}
