// JSON read the way cfssl's Go structs read it: object keys match field names exactly or,
// failing that, ignoring case ("CA" fills "ca"); unknown keys are ignored; null leaves a
// field at its default; numbers for int fields must be whole. Unlike Go, every mistake is
// reported with the file, the line and column (syntax) or the field path (types).

import { PkiError } from './errors.js';

/** A JSON number, kept with its source text so int fields can refuse 2048.5 or 2e3 as Go does. */
export class JsonNumber {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

class Parser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  parseDocument(): JsonValue {
    this.skipSpace();
    const v = this.value();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected ${this.describe()} after the end of the JSON value`);
    return v;
  }

  private fail(what: string): never {
    let line = 1;
    let col = 1;
    for (let i = 0; i < this.pos && i < this.text.length; i++) {
      if (this.text[i] === '\n') {
        line++;
        col = 1;
      } else col++;
    }
    throw new PkiError(`${this.file}:${line}:${col}: invalid JSON: ${what}`);
  }

  private describe(): string {
    if (this.pos >= this.text.length) return 'end of file';
    return JSON.stringify(this.text[this.pos]);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && ' \t\r\n'.includes(this.text[this.pos]!)) this.pos++;
  }

  private value(): JsonValue {
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    this.fail(`expected a value, found ${this.describe()}`);
  }

  private object(): JsonObject {
    const out: JsonObject = Object.create(null) as JsonObject;
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail(`expected a "quoted" key, found ${this.describe()}`);
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after key ${JSON.stringify(key)}, found ${this.describe()}`);
      this.pos++;
      this.skipSpace();
      // re-inserting moves a repeated key to the end, so "last one wins" also holds for order
      delete out[key];
      out[key] = this.value();
      this.skipSpace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail(`expected ',' or '}' after the value of ${JSON.stringify(key)}, found ${this.describe()}`);
      }
    }
  }

  private array(): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.value());
      this.skipSpace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail(`expected ',' or ']' in a list, found ${this.describe()}`);
      }
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) {
        this.pos = start;
        this.fail('string is not closed');
      }
      if (c === '"') break;
      if (c < ' ') this.fail('control character inside a string');
      if (c === '\\') {
        const e = this.text[this.pos + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.fail('bad \\u escape in a string');
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail('bad escape in a string');
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): JsonNumber {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
    if (!m) this.fail(`bad number starting at ${this.describe()}`);
    this.pos += m[0].length;
    return new JsonNumber(m[0], Number(m[0]));
  }
}

/** Parses JSON text; errors name `file` and the line:column of the first mistake. */
export function parseJson(text: string, file: string): JsonValue {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a BOM from Windows editors
  if (body.trim() === '') throw new PkiError(`${file}: is empty, expected a JSON object`);
  return new Parser(body, file).parseDocument();
}

function isObject(v: JsonValue): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber);
}

function kindOf(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof JsonNumber) return `the number ${v.text}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `the boolean ${String(v)}`;
}

/** Reads one JSON object's fields the way Go's encoding/json fills a struct. */
export class Fields {
  constructor(
    readonly data: JsonObject,
    readonly file: string,
    /** where this object sits, for messages: "" at the top, else "key." style */
    readonly path = '',
  ) {}

  static of(v: JsonValue, file: string, what: string): Fields {
    if (!isObject(v)) throw new PkiError(`${file}: ${what} must be a JSON object, found ${kindOf(v)}`);
    return new Fields(v, file);
  }

  /** The value for `name`: an exact key, or one equal ignoring case; the last such key wins. null counts as absent. */
  raw(name: string): JsonValue | undefined {
    let found: JsonValue | undefined;
    const lower = name.toLowerCase();
    for (const [k, v] of Object.entries(this.data)) {
      if (k === name || k.toLowerCase() === lower) found = v;
    }
    return found === null ? undefined : found;
  }

  private typeError(name: string, want: string, got: JsonValue): never {
    throw new PkiError(`${this.file}: "${this.path}${name}" must be ${want}, found ${kindOf(got)}`);
  }

  str(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || typeof v === 'string') return v;
    this.typeError(name, 'a string', v);
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined || typeof v === 'boolean') return v;
    this.typeError(name, 'true or false', v);
  }

  int(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v instanceof JsonNumber && /^-?\d+$/.test(v.text) && Number.isSafeInteger(v.value)) return v.value;
    this.typeError(name, 'a whole number', v);
  }

  list(name: string): JsonValue[] | undefined {
    const v = this.raw(name);
    if (v === undefined || Array.isArray(v)) return v;
    this.typeError(name, 'a list', v);
  }

  strList(name: string): string[] | undefined {
    const items = this.list(name);
    return items?.map((item, i) => {
      if (typeof item === 'string') return item;
      throw new PkiError(`${this.file}: "${this.path}${name}[${i}]" must be a string, found ${kindOf(item)}`);
    });
  }

  obj(name: string): Fields | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (isObject(v)) return new Fields(v, this.file, `${this.path}${name}.`);
    this.typeError(name, 'an object', v);
  }

  /** Each element of a list of objects, with its index in the path. */
  objList(name: string): Fields[] | undefined {
    const items = this.list(name);
    return items?.map((item, i) => {
      if (isObject(item)) {
        return new Fields(item, this.file, `${this.path}${name}[${i}].`);
      }
      throw new PkiError(`${this.file}: "${this.path}${name}[${i}]" must be an object, found ${kindOf(item)}`);
    });
  }

  /** The keys of an object-valued field, with their values. */
  entries(name: string): [string, JsonValue][] | undefined {
    const f = this.obj(name);
    return f ? Object.entries(f.data) : undefined;
  }
}

/** Encodes a string map as Go's json.Marshal does: keys sorted, and <, >, & escaped. */
export function goJsonMarshal(map: Record<string, string>): string {
  const keys = Object.keys(map).sort();
  const body = keys.map((k) => `${goJsonString(k)}:${goJsonString(map[k]!)}`).join(',');
  return `{${body}}`;
}

function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
