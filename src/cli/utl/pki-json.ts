// tsetcdutl pki json: cfssljson. Reads gencert's JSON and writes
//   NAME.pem       the certificate          (created with mode 0664, less the umask)
//   NAME-key.pem   the private key          (mode 0600, also when the file already existed)
//   NAME.csr       the certificate request  (0644, less the umask)
// plus NAME-bundle.pem / NAME-root.pem for bundle results and NAME-response.der for OCSP.
// Without -bare the input is cfssl's API envelope {"success": ..., "result": {...}}.

import { chmodSync, writeFileSync } from 'node:fs';
import { PkiError } from '../../pki/errors.js';
import { JsonNumber, parseJson, type JsonObject, type JsonValue } from '../../pki/gojson.js';
import { TSETCD_VERSION } from '../version.js';
import { bool, flagDefaults, parseGoFlags, str, type FlagDef } from './pki-flags.js';
import { readInput, type PkiIo } from './pki-io.js';

const FLAGS: FlagDef[] = [
  { name: 'bare', kind: 'bool', def: false, usage: 'the input is gencert output as it is, not wrapped in {"success", "result"}' },
  { name: 'f', kind: 'string', def: '-', usage: 'file to read the JSON from; - is standard input' },
  { name: 'stdout', kind: 'bool', def: false, usage: 'print the contents instead of writing files' },
  { name: 'version', kind: 'bool', def: false, usage: 'print the version' },
];

interface OutputFile {
  name: string;
  contents: Buffer;
  /** base64 on -stdout */
  binary: boolean;
  mode: number;
  /** set the mode even on an existing file */
  forceMode: boolean;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber);
}

function stringField(input: JsonObject, keys: string[], source: string): string | undefined {
  for (const k of keys) {
    if (!(k in input)) continue;
    const v = input[k];
    if (typeof v !== 'string') throw new PkiError(`${source}: "${k}" must be a string of PEM text`);
    return v;
  }
  return undefined;
}

function unwrap(doc: JsonValue, bare: boolean, source: string): JsonObject {
  if (!isObject(doc)) throw new PkiError(`${source}: expected a JSON object such as gencert prints`);
  if (bare) return doc;
  if (doc.success !== true) {
    const errors = Array.isArray(doc.errors) ? doc.errors : [];
    const msgs = errors.map((e) => (isObject(e) && typeof e.message === 'string' ? e.message : JSON.stringify(e)));
    const hint = 'cert' in doc || 'key' in doc ? ' (this looks like gencert output: add -bare)' : '';
    throw new PkiError(`request failed${hint}${msgs.length ? `:\n\t${msgs.join('\n\t')}` : ''}`);
  }
  return isObject(doc.result) ? doc.result : Object.create(null);
}

function outputs(input: JsonObject, base: string, source: string): OutputFile[] {
  const outs: OutputFile[] = [];
  const add = (suffix: string, contents: string | Buffer, mode: number, binary = false, forceMode = false): void => {
    outs.push({ name: base + suffix, contents: Buffer.isBuffer(contents) ? contents : Buffer.from(contents), binary, mode, forceMode });
  };
  const cert = stringField(input, ['cert', 'certificate'], source);
  if (cert) add('.pem', cert, 0o664);
  const key = stringField(input, ['key', 'private_key'], source);
  if (key) add('-key.pem', key, 0o600, false, true);
  const enc = stringField(input, ['encrypted_key'], source);
  if (enc !== undefined) add('-key.enc', enc, 0o600, true, true);
  const csr = stringField(input, ['csr', 'certificate_request'], source);
  if (csr) add('.csr', csr, 0o644);
  const result = input.result;
  if (isObject(result) && isObject(result.bundle)) {
    const bundle = result.bundle;
    if (typeof bundle.bundle !== 'string') throw new PkiError(`${source}: inner bundle parsing failed`);
    if (typeof bundle.root !== 'string') throw new PkiError(`${source}: root parsing failed`);
    add('-bundle.pem', `${bundle.bundle}\n${bundle.root}`, 0o644);
    add('-root.pem', bundle.root, 0o644);
  }
  const ocsp = stringField(input, ['ocspResponse'], source);
  if (ocsp !== undefined) add('-response.der', Buffer.from(ocsp, 'base64'), 0o644, true);
  return outs;
}

export async function jsonCommand(argv: string[], io: PkiIo): Promise<number> {
  const f = parseGoFlags(argv, FLAGS);
  if (f.help) {
    io.err(`Usage of tsetcdutl pki json (cfssljson): [flags] [NAME]\n${flagDefaults(FLAGS)}`);
    return 0;
  }
  if (bool(f, 'version')) {
    io.out(`Version: ${TSETCD_VERSION}\n`);
    return 0;
  }
  const base = f.args[0] ?? 'cert';
  const inFile = str(f, 'f');
  const source = inFile === '-' ? 'standard input' : inFile;
  const text = await readInput(io, inFile, 'JSON input');
  const input = unwrap(parseJson(text, source), bool(f, 'bare'), source);
  const files = outputs(input, base, source);
  if (files.length === 0) throw new PkiError(`${source}: found no "cert", "key" or "csr" to write`);
  for (const file of files) {
    if (bool(f, 'stdout')) {
      io.out(`${file.binary ? file.contents.toString('base64') : file.contents.toString()}\n`);
      continue;
    }
    try {
      writeFileSync(file.name, file.contents, { mode: file.mode });
      if (file.forceMode) chmodSync(file.name, file.mode);
    } catch (e) {
      throw new PkiError(`cannot write ${file.name}: ${(e as Error).message}`);
    }
  }
  return 0;
}
