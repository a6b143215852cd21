// `--config-file`: a YAML document with etcd's keys. etcd turns the YAML into
// JSON and decodes that into Go structs, which decides what we must accept:
// YAML 1.1 scalars (yes/no/on/off are booleans), keys matched exactly or else
// case-insensitively, unknown keys ignored, null leaves a default alone, a value
// of the wrong JSON type is an error naming the Go field, durations are integer
// nanoseconds, URL lists are comma-separated strings.

import { parseAllDocuments, type Tags } from 'yaml';
import { FLAGS, defaultValues, yamlGoType, yamlKeyOf } from './flags.js';
import { convertFlagText } from './goflag.js';
import { parseEtcdUrlList } from './urls.js';
import type { FlagSpec, FlagState, FlagValue, YamlGoType } from './types.js';

export type YamlResult =
  | { readonly ok: true; readonly state: FlagState; readonly keyOf: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly message: string };

/** The keys etcd's proxy section of the file decodes into (a second Go struct). */
const PROXY_KEYS = new Set([
  'proxy',
  'proxy-failure-wait',
  'proxy-refresh-interval',
  'proxy-dial-timeout',
  'proxy-write-timeout',
  'proxy-read-timeout',
  'discovery-fallback',
]);

/** Labels etcd uses when a URL key fails to parse (its advertise-client-urls label really says "peer"). */
const URL_KEY_LABEL: ReadonlyMap<string, string> = new Map([
  ['advertise-client-urls', 'advertise-peer-urls'],
]);

/** Order in which etcd converts the URL keys after decoding. */
const URL_KEY_ORDER = [
  'listen-peer-urls',
  'listen-client-urls',
  'initial-advertise-peer-urls',
  'advertise-client-urls',
  'listen-metrics-urls',
  'listen-dashboard-urls',
];

interface Field {
  readonly key: string;
  readonly flag?: FlagSpec;
  readonly nested?: ReadonlyMap<string, Field>;
}

function buildFields(): Map<string, Field> {
  const top = new Map<string, Field>();
  const nested = new Map<string, Map<string, Field>>();
  for (const f of FLAGS) {
    const key = yamlKeyOf(f);
    if (key === null) continue;
    const dot = key.indexOf('.');
    if (dot < 0) {
      top.set(key, { key, flag: f });
      continue;
    }
    const parent = key.slice(0, dot);
    const children = nested.get(parent) ?? new Map<string, Field>();
    children.set(key.slice(dot + 1), { key: key.slice(dot + 1), flag: f });
    nested.set(parent, children);
  }
  for (const [parent, children] of nested) top.set(parent, { key: parent, nested: children });
  return top;
}

const FIELDS = buildFields();

/** Go's json field lookup: the exact key, else the first key equal ignoring case. */
function lookup(fields: ReadonlyMap<string, Field>, key: string): Field | undefined {
  const exact = fields.get(key);
  if (exact !== undefined) return exact;
  const folded = key.toLowerCase();
  for (const [k, field] of fields) if (k.toLowerCase() === folded) return field;
  return undefined;
}

/** The JSON type word Go puts in "cannot unmarshal X into ...". */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return 'object';
}

function decodeError(what: string, owner: string, path: string, type: string): string {
  return `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${what} into Go struct field ${owner}.${path} of type ${type}`;
}

const RANGE: Record<string, [number, number]> = {
  uint: [0, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  uint32: [0, 4294967295],
  int: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  'time.Duration': [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Converts one JSON-ish value to the Go type; a string is the error's "cannot unmarshal ..." part. */
function decodeValue(v: unknown, type: YamlGoType): { value: FlagValue } | { what: string; elem?: boolean } {
  switch (type) {
    case 'string':
      return typeof v === 'string' ? { value: v } : { what: jsonKind(v) };
    case 'bool':
      return typeof v === 'boolean' ? { value: v } : { what: jsonKind(v) };
    case '[]string': {
      if (!Array.isArray(v)) return { what: jsonKind(v) };
      const bad = v.find((e) => typeof e !== 'string' && e !== null);
      if (bad !== undefined) return { what: jsonKind(bad), elem: true };
      return { value: v.map((e) => (typeof e === 'string' ? e : '')) };
    }
    default: {
      if (typeof v !== 'number') return { what: jsonKind(v) };
      const [lo, hi] = RANGE[type]!;
      if (!Number.isInteger(v) || v < lo || v > hi) return { what: `number ${String(v)}` };
      return { value: v };
    }
  }
}

type Decoded = { flag: FlagSpec; key: string; value: FlagValue };

/** Walks the document like Go's decoder: keys in sorted order, first type error wins. */
function decodeObject(
  obj: Record<string, unknown>,
  fields: ReadonlyMap<string, Field>,
  prefix: string,
  out: Decoded[],
): string | undefined {
  let firstError: string | undefined;
  for (const key of Object.keys(obj).sort()) {
    const field = lookup(fields, key);
    const v = obj[key];
    if (field === undefined || v === null || v === undefined) continue;
    const path = prefix + field.key;
    if (field.nested !== undefined) {
      if (typeof v !== 'object' || Array.isArray(v)) {
        firstError ??= decodeError(jsonKind(v), 'configYAML', path, 'embed.securityConfig');
        continue;
      }
      const err = decodeObject(v as Record<string, unknown>, field.nested, path + '.', out);
      firstError ??= err;
      continue;
    }
    const flag = field.flag!;
    const type = yamlGoType(flag);
    const r = decodeValue(v, type);
    if ('value' in r) {
      out.push({ flag, key: path, value: r.value });
      continue;
    }
    const owner = prefix !== '' ? 'securityConfig' : PROXY_KEYS.has(flag.name) ? 'configProxy' : 'configYAML';
    firstError ??= decodeError(r.what, owner, path, r.elem === true ? 'string' : type);
  }
  return firstError;
}

/** yaml.v2 has no timestamps or base-60 numbers: such scalars stay strings. */
function yaml11Tags(tags: Tags): Tags {
  return tags.filter((t) => {
    if (typeof t === 'string') return t !== 'timestamp' && t !== 'intTime' && t !== 'floatTime';
    return t.tag !== 'tag:yaml.org,2002:timestamp' && !('format' in t && t.format === 'TIME');
  });
}

function parseDocument(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: false, merge: true, customTags: yaml11Tags });
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (doc === undefined) return { ok: true, value: null };
  const err = doc.errors[0];
  if (err !== undefined) {
    const line = err.linePos?.[0].line ?? 1;
    const what = err.message.split(' at line ')[0]!;
    return { ok: false, message: `error converting YAML to JSON: yaml: line ${line}: ${what}` };
  }
  return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
}

/** Applies one decoded key to the flag state, with etcd's per-key conversions. */
function applyDecoded(state: FlagState, d: Decoded): string | undefined {
  const { flag, value } = d;
  if (flag.kind === 'urls') {
    if (value === '') return undefined; // an empty string leaves the default
    const r = flag.urlExceptions?.includes(value as string) ? undefined : parseEtcdUrlList(value as string);
    if (r !== undefined && !r.ok) return `unexpected error setting up ${URL_KEY_LABEL.get(flag.name) ?? flag.name}: ${r.message}`;
    state.values.set(flag.name, r === undefined ? [value as string] : r.urls.map((u) => u.text));
  } else if (flag.kind === 'choice' && flag.name !== 'initial-cluster-state') {
    if (value === '') return undefined;
    const r = convertFlagText(flag, value as string, undefined);
    if (!r.ok) return `unexpected error setting up ${flag.name === 'proxy' ? 'proxyFlag' : flag.name + ' flag'}: ${r.reason}`;
    state.values.set(flag.name, value);
  } else if (flag.kind === 'unique-strings' && typeof value === 'string') {
    if (value === '') return undefined;
    state.values.set(flag.name, [...new Set(value.split(','))].sort());
  } else if (flag.name === 'initial-cluster-state' && value === '') {
    state.values.set(flag.name, 'new');
  } else {
    state.values.set(flag.name, value);
  }
  state.explicit.add(flag.name);
  return undefined;
}

/** Reads a config file's text into flag values, or etcd's error for it. */
export function loadYamlConfig(text: string): YamlResult {
  const parsed = parseDocument(text);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const state: FlagState = { values: defaultValues(), explicit: new Set() };
  const keyOf = new Map<string, string>();
  if (doc === null || doc === undefined) return { ok: true, state, keyOf };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return {
      ok: false,
      message: `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonKind(doc)} into Go value of type embed.configYAML`,
    };
  }
  const decoded: Decoded[] = [];
  const err = decodeObject(doc as Record<string, unknown>, FIELDS, '', decoded);
  if (err !== undefined) return { ok: false, message: err };
  const urlRank = (d: Decoded) => {
    const i = URL_KEY_ORDER.indexOf(d.flag.name);
    return i < 0 ? URL_KEY_ORDER.length : i;
  };
  decoded.sort((a, b) => urlRank(a) - urlRank(b));
  for (const d of decoded) {
    const problem = applyDecoded(state, d);
    if (problem !== undefined) return { ok: false, message: problem };
    keyOf.set(d.flag.name, d.key);
  }
  return { ok: true, state, keyOf };
}
