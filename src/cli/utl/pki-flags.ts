// Command-line flags as Go's standard flag package reads them, which is what cfssl and
// cfssljson use: "-flag value", "-flag=value", "--flag value" and "--flag=value" are all the
// same; a boolean flag takes no separate value ("-initca", "-initca=false"); parsing stops at
// the first argument that is not a flag, or after "--".

export type FlagKind = 'bool' | 'string' | 'int';

export interface FlagDef {
  name: string;
  kind: FlagKind;
  def: string | boolean | number;
  usage: string;
}

export type FlagValues = Map<string, string | boolean | number>;

export interface ParsedFlags {
  values: FlagValues;
  /** flags that were given on the command line */
  set: Set<string>;
  args: string[];
  help: boolean;
}

/** A command-line mistake: Go's flag package exits 2 after printing the message and usage. */
export class FlagError extends Error {
  override name = 'FlagError';
}

/** strconv.ParseBool */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** strconv.ParseInt(s, 0, 64) for the small numbers flags hold. */
function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*|0)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!.replace(/_/g, '');
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
  else if (body.length > 1 && body.startsWith('0')) v = parseInt(body.slice(1), 8);
  else v = parseInt(body, 10);
  return Number.isSafeInteger(v) ? (m[1] === '-' ? -v : v) : undefined;
}

export function parseGoFlags(argv: readonly string[], defs: readonly FlagDef[]): ParsedFlags {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const values: FlagValues = new Map(defs.map((d) => [d.name, d.def]));
  const set = new Set<string>();
  let i = 0;
  let help = false;
  while (i < argv.length) {
    const s = argv[i]!;
    if (s.length < 2 || s[0] !== '-') break;
    i++;
    if (s === '--') break;
    const minuses = s[1] === '-' ? 2 : 1;
    const body = s.slice(minuses);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const def = byName.get(name);
    if (!def) {
      if (name === 'h' || name === 'help') {
        help = true;
        continue;
      }
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    if (def.kind === 'bool') {
      const v = inline === undefined ? true : parseGoBool(inline);
      if (v === undefined) throw new FlagError(`invalid boolean value ${JSON.stringify(inline)} for -${name}: parse error`);
      values.set(name, v);
      set.add(name);
      continue;
    }
    let text = inline;
    if (text === undefined) {
      if (i >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      text = argv[i++]!;
    }
    if (def.kind === 'int') {
      const n = parseGoInt(text);
      if (n === undefined) throw new FlagError(`invalid value ${JSON.stringify(text)} for flag -${name}: parse error`);
      values.set(name, n);
    } else values.set(name, text);
    set.add(name);
  }
  return { values, set, args: argv.slice(i), help };
}

/** Go's flag.PrintDefaults layout: "  -name type\n    \tusage (default x)". */
export function flagDefaults(defs: readonly FlagDef[]): string {
  return defs
    .map((d) => {
      const type = d.kind === 'bool' ? '' : ` ${d.kind === 'int' ? 'int' : 'string'}`;
      const showDefault = d.kind === 'bool' ? d.def === true : d.kind === 'int' ? d.def !== 0 : d.def !== '';
      const dflt = showDefault ? ` (default ${d.kind === 'string' ? JSON.stringify(d.def) : String(d.def)})` : '';
      return `  -${d.name}${type}\n    \t${d.usage}${dflt}\n`;
    })
    .join('');
}

export function str(f: ParsedFlags, name: string): string {
  return String(f.values.get(name) ?? '');
}

export function bool(f: ParsedFlags, name: string): boolean {
  return f.values.get(name) === true;
}

export function int(f: ParsedFlags, name: string): number {
  const v = f.values.get(name);
  return typeof v === 'number' ? v : 0;
}
