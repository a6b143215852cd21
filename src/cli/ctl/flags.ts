// Command-line flags with the syntax and error texts of spf13/pflag, which etcdctl and
// etcdutl parse with: `--name=value`, `--name value`, `-n value`, `-nvalue`, bare
// booleans (`--prefix`, `--prefix=false`), flags anywhere among the positional arguments,
// and `--` ending the flags.
import { goDuration, goQuote, parseGoBool, parseGoDuration, parseGoInt64 } from './gofmt.js';

export type FlagKind = 'bool' | 'string' | 'int64' | 'duration' | 'stringSlice';

export interface FlagSpec {
  name: string;
  /** one-letter alias, e.g. "w" for --write-out */
  short?: string;
  kind: FlagKind;
  /** default, written as on the command line ("false", "5s", "127.0.0.1:2379") */
  def: string;
  usage: string;
}

/** One flag's current value; `changed` once the command line or the environment set it. */
export class Flag {
  changed = false;
  private text: string;
  private list: string[];

  constructor(readonly spec: FlagSpec) {
    this.text = spec.def;
    this.list = spec.kind === 'stringSlice' ? splitCsv(spec.def) : [];
  }

  /** Sets from text; throws an Error carrying the parser's message on a bad value. */
  set(value: string): void {
    switch (this.spec.kind) {
      case 'bool':
        this.text = String(parseGoBool(value));
        break;
      case 'int64':
        this.text = parseGoInt64(value, 0).toString();
        break;
      case 'duration':
        this.text = goDuration(parseGoDuration(value));
        break;
      case 'stringSlice': {
        const items = value === '' ? [] : splitCsv(value);
        this.list = this.changed ? [...this.list, ...items] : items;
        break;
      }
      default:
        this.text = value;
    }
    this.changed = true;
  }

  get bool(): boolean {
    return this.text === 'true';
  }
  get string(): string {
    return this.text;
  }
  get int64(): bigint {
    return BigInt(this.text);
  }
  /** nanoseconds */
  get duration(): bigint {
    return parseGoDuration(this.text);
  }
  get strings(): string[] {
    return [...this.list];
  }

  /** pflag's Value.String(): what --debug prints. */
  toString(): string {
    return this.spec.kind === 'stringSlice' ? `[${this.list.join(',')}]` : this.text;
  }

  /** A bare `--flag` means true for booleans (pflag's NoOptDefVal). */
  get takesNoValue(): boolean {
    return this.spec.kind === 'bool';
  }
}

/** encoding/csv's reading of one record, as pflag splits a string-slice value. */
function splitCsv(s: string): string[] {
  if (s === '') return [];
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q < 0) throw new Error(`parse error on line 1, column ${s.length + 1}: extraneous or missing " in quoted-field`);
        field += s.slice(i, q);
        i = q + 1;
        if (s[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        break;
      }
      if (i < s.length && s[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const comma = s.indexOf(',', i);
      field = comma < 0 ? s.slice(i) : s.slice(i, comma);
      const quote = field.indexOf('"');
      if (quote >= 0) throw new Error(`parse error on line 1, column ${i + quote + 1}: bare " in non-quoted-field`);
      i = comma < 0 ? s.length : comma;
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // the comma
  }
}

/** A parse failure; the message is pflag's. */
export class FlagError extends Error {
  override name = 'FlagError';
}

export class FlagSet {
  private readonly byName = new Map<string, Flag>();
  private readonly byShort = new Map<string, Flag>();

  constructor(flags: Iterable<Flag>) {
    for (const f of flags) {
      this.byName.set(f.spec.name, f);
      if (f.spec.short) this.byShort.set(f.spec.short, f);
    }
  }

  get(name: string): Flag {
    const f = this.byName.get(name);
    if (!f) throw new Error(`flag accessed but not defined: ${name}`);
    return f;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  lookup(name: string): Flag | undefined {
    return this.byName.get(name);
  }

  lookupShort(short: string): Flag | undefined {
    return this.byShort.get(short);
  }

  /** All flags sorted by name, the order pflag visits and lists them in. */
  sorted(): Flag[] {
    return [...this.byName.values()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0));
  }

  /** Parses `args`, setting flags; returns the positional arguments. Throws FlagError. */
  parse(args: readonly string[]): string[] {
    const positional: string[] = [];
    const rest = [...args];
    while (rest.length > 0) {
      const s = rest.shift()!;
      if (s.length < 2 || s[0] !== '-') {
        positional.push(s);
      } else if (s === '--') {
        positional.push(...rest);
        break;
      } else if (s[1] === '-') {
        this.parseLong(s, rest);
      } else {
        this.parseShorts(s, rest);
      }
    }
    return positional;
  }

  private parseLong(s: string, rest: string[]): void {
    const body = s.slice(2);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const flag = this.byName.get(name);
    if (!flag) throw new FlagError(`unknown flag: --${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (flag.takesNoValue) value = 'true';
    else if (rest.length > 0) value = rest.shift()!;
    else throw new FlagError(`flag needs an argument: ${s}`);
    this.assign(flag, value);
  }

  private parseShorts(s: string, rest: string[]): void {
    let shorts = s.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0]!;
      const flag = this.byShort.get(c);
      if (!flag) throw new FlagError(`unknown shorthand flag: ${goQuote(c).replace(/^"|"$/g, "'")} in -${shorts}`);
      let value: string;
      if (shorts.length > 2 && shorts[1] === '=') {
        value = shorts.slice(2);
        shorts = '';
      } else if (flag.takesNoValue) {
        value = 'true';
        shorts = shorts.slice(1);
      } else if (shorts.length > 1) {
        value = shorts.slice(1);
        shorts = '';
      } else if (rest.length > 0) {
        value = rest.shift()!;
        shorts = '';
      } else {
        throw new FlagError(`flag needs an argument: '${c}' in -${shorts}`);
      }
      this.assign(flag, value);
    }
  }

  private assign(flag: Flag, value: string): void {
    try {
      flag.set(value);
    } catch (err) {
      const shown = flag.spec.short ? `-${flag.spec.short}, --${flag.spec.name}` : `--${flag.spec.name}`;
      throw new FlagError(`invalid argument ${goQuote(value)} for ${goQuote(shown)} flag: ${(err as Error).message}`);
    }
  }

  /**
   * cobra's stripFlags: the words of `args` that are not flags or flag values, as cobra
   * finds sub-commands before it parses any flag. A flag not in this set is assumed to
   * take the next word as its value; the flag `--` ends the scan.
   */
  nonFlagWords(args: readonly string[]): string[] {
    const words: string[] = [];
    const rest = [...args];
    while (rest.length > 0) {
      const s = rest.shift()!;
      if (s === '--') break;
      const longWithValue = s.startsWith('--') && !s.includes('=') && !this.byName.get(s.slice(2))?.takesNoValue;
      const shortWithValue = s.startsWith('-') && !s.includes('=') && s.length === 2 && !this.byShort.get(s[1]!)?.takesNoValue;
      if (longWithValue || shortWithValue) {
        if (rest.length <= 1) break;
        rest.shift();
        continue;
      }
      if (s !== '' && !s.startsWith('-')) words.push(s);
    }
    return words;
  }
}
