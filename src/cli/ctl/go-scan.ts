// The Go text parsing etcdctl applies to lines typed for `txn` and `watch -i`:
// strconv.Unquote, fmt's %q / %s scanning with its error texts, and etcdctl's argify
// (a line split into words, quoted words unquoted). Strings come out as bytes, since a
// quoted string may hold any byte through \x escapes.

/** Thrown with Go's error text ("invalid syntax", "unexpected EOF", ...). */
export class GoScanError extends Error {
  override name = 'GoScanError';
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22 };

function hexValue(s: string): number {
  return /^[0-9a-fA-F]+$/.test(s) ? parseInt(s, 16) : -1;
}

/** strconv.Unquote of a double-quoted or back-quoted Go string literal, as bytes. */
export function goUnquote(lit: string): Buffer {
  const syntax = (): GoScanError => new GoScanError('invalid syntax');
  if (lit.length < 2 || lit[0] !== lit[lit.length - 1]) throw syntax();
  const body = lit.slice(1, -1);
  if (lit[0] === '`') {
    if (body.includes('`')) throw syntax();
    return Buffer.from(body.replace(/\r/g, ''), 'utf8');
  }
  if (lit[0] !== '"' || body.includes('\n')) throw syntax();
  const out: number[] = [];
  const chars = [...body];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '"') throw syntax();
    if (c !== '\\') {
      out.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const e = chars[++i];
    if (e === undefined) throw syntax();
    if (SIMPLE_ESCAPES[e] !== undefined) {
      out.push(SIMPLE_ESCAPES[e]!);
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const v = hexValue(chars.slice(i + 1, i + 1 + n).join(''));
      if (v < 0 || chars.slice(i + 1, i + 1 + n).length !== n) throw syntax();
      i += n;
      if (e === 'x') out.push(v);
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw syntax();
      else out.push(...Buffer.from(String.fromCodePoint(v), 'utf8'));
    } else if (e >= '0' && e <= '7') {
      const digits = chars.slice(i, i + 3).join('');
      if (!/^[0-7]{3}$/.test(digits)) throw syntax();
      const v = parseInt(digits, 8);
      if (v > 255) throw syntax();
      out.push(v);
      i += 2;
    } else {
      throw syntax();
    }
  }
  return Buffer.from(out);
}

/** A cursor over one line, with fmt's scanning of %q, %s, literals and spaces. */
export class GoScanner {
  private at = 0;
  constructor(private readonly s: string) {}

  private eof(): boolean {
    return this.at >= this.s.length;
  }

  private skipSpace(): void {
    while (!this.eof() && /[ \t\r\n\v\f]/.test(this.s[this.at]!)) this.at++;
  }

  /** %q: a quoted or back-quoted string, spaces before it skipped. */
  quoted(): Buffer {
    this.skipSpace();
    if (this.eof()) throw new GoScanError('unexpected EOF');
    const quote = this.s[this.at++]!;
    if (quote === '`') {
      const end = this.s.indexOf('`', this.at);
      if (end < 0) throw new GoScanError('unexpected EOF');
      const text = this.s.slice(this.at, end);
      this.at = end + 1;
      return Buffer.from(text, 'utf8');
    }
    if (quote !== '"') throw new GoScanError('expected quoted string');
    let lit = '"';
    for (;;) {
      if (this.eof()) throw new GoScanError('unexpected EOF');
      const c = this.s[this.at++]!;
      lit += c;
      if (c === '\\') {
        if (this.eof()) throw new GoScanError('unexpected EOF');
        lit += this.s[this.at++]!;
      } else if (c === '"') break;
    }
    return goUnquote(lit);
  }

  /** %s: the next run of non-space characters. */
  word(): string {
    this.skipSpace();
    if (this.eof()) throw new GoScanError('unexpected EOF');
    const start = this.at;
    while (!this.eof() && !/[ \t\r\n\v\f]/.test(this.s[this.at]!)) this.at++;
    return this.s.slice(start, this.at);
  }

  /** A literal character of the format: the input must have it next. */
  literal(c: string): void {
    if (this.eof()) throw new GoScanError('unexpected EOF');
    if (this.s[this.at] !== c) throw new GoScanError('input does not match format');
    this.at++;
  }

  /** A space in the format: one or more spaces of input (none only at end of input). */
  spaces(): void {
    if (this.eof()) return;
    if (!/[ \t\r\v\f]/.test(this.s[this.at]!)) throw new GoScanError('expected space in input to match format');
    while (!this.eof() && /[ \t\r\v\f]/.test(this.s[this.at]!)) this.at++;
  }
}

/** Go's regexp for etcdctl's words (RE2's \s is ASCII white space). */
const WORD = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;

/**
 * etcdctl's argify: the words of a line; 'single-quoted' words lose their quotes,
 * "double-quoted" ones are unquoted as Go strings (a bad one throws GoScanError).
 */
export function argify(line: string): string[] {
  return (line.match(WORD) ?? []).map((w) => {
    if (w[0] === "'") return w.slice(1, -1);
    if (w[0] === '"') return new GoScanner(w).quoted().toString('utf8');
    return w;
  });
}
