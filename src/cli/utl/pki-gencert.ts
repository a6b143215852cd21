// tsetcdutl pki gencert: cfssl gencert's flags, arguments and output.
// Prints {"cert": ..., "csr": ..., "key": ...} (keys sorted, one line) on standard output.

import { readCertificates, readTextFile } from '../../pki/cert.js';
import { builtinPolicy, parseSigningConfig } from '../../pki/config.js';
import { PkiError } from '../../pki/errors.js';
import { genCert, initCA, renewCA, type GenResult } from '../../pki/gencert.js';
import { goJsonMarshal } from '../../pki/gojson.js';
import { parsePrivateKeyPem } from '../../pki/keys.js';
import { parseCertRequest, splitHosts } from '../../pki/request.js';
import type { LogFn } from '../../pki/signer.js';
import { FlagError, bool, flagDefaults, int, parseGoFlags, str, type FlagDef } from './pki-flags.js';
import { LOG_LEVEL, logLine, readInput, type PkiIo } from './pki-io.js';

const FLAGS: FlagDef[] = [
  { name: 'initca', kind: 'bool', def: false, usage: 'make a self-signed CA from CSRJSON' },
  { name: 'renewca', kind: 'bool', def: false, usage: 'issue the CA in -ca again, from now, with its key -ca-key' },
  { name: 'ca', kind: 'string', def: '', usage: 'certificate of the CA that signs' },
  { name: 'ca-key', kind: 'string', def: '', usage: "the CA's private key" },
  { name: 'config', kind: 'string', def: '', usage: 'signing configuration (ca-config.json); without it: one year, server and client auth' },
  { name: 'profile', kind: 'string', def: '', usage: 'profile of the signing configuration to use (default: signing.default)' },
  { name: 'hostname', kind: 'string', def: '', usage: 'comma-separated hosts that replace the "hosts" of CSRJSON' },
  { name: 'cn', kind: 'string', def: '', usage: 'common name that replaces the "CN" of CSRJSON' },
  { name: 'remote', kind: 'string', def: '', usage: 'remote signer address (not supported)' },
  { name: 'label', kind: 'string', def: '', usage: 'remote signer key label (ignored)' },
  { name: 'loglevel', kind: 'int', def: LOG_LEVEL.info, usage: 'least severity logged on stderr: 0 debug, 1 info, 2 warning, 3 error' },
];

const USAGE = `tsetcdutl pki gencert: keys and certificates from cfssl request JSON

    tsetcdutl pki gencert -initca CSRJSON
        a new key and a self-signed CA certificate
    tsetcdutl pki gencert -initca -ca-key KEY CSRJSON
        a CA certificate around an existing key
    tsetcdutl pki gencert -renewca -ca CERT -ca-key KEY
        the CA certificate issued again from now, same key and lifetime
    tsetcdutl pki gencert -ca CERT -ca-key KEY [-config FILE] [-profile NAME] [-hostname h1,h2] CSRJSON
        a new key and a certificate signed by the CA

CSRJSON is a request file such as ca-csr.json, or - for standard input. The output is one
line of JSON for "tsetcdutl pki json -bare NAME" to split into files.

Flags:
`;

function logger(io: PkiIo, level: number): LogFn {
  return (l, message) => {
    if (LOG_LEVEL[l] >= level) io.err(logLine(l, message));
  };
}

function loadCa(caFile: string, keyFile: string) {
  const [cert] = readCertificates(caFile, '-ca file');
  const key = parsePrivateKeyPem(readTextFile(keyFile, '-ca-key file'), keyFile);
  return { cert: cert!, key };
}

export async function gencertCommand(argv: string[], io: PkiIo): Promise<number> {
  const f = parseGoFlags(argv, FLAGS);
  if (f.help) {
    io.err(USAGE + flagDefaults(FLAGS));
    return 0;
  }
  const log = logger(io, int(f, 'loglevel'));
  if (str(f, 'remote') !== '') throw new PkiError('-remote: remote CFSSL signers are not supported; sign locally with -ca and -ca-key');
  let result: GenResult;
  if (bool(f, 'renewca')) {
    if (f.args.length > 0) throw new FlagError(`-renewca takes no CSRJSON argument (got ${JSON.stringify(f.args[0])})`);
    const caFile = str(f, 'ca');
    const keyFile = str(f, 'ca-key');
    if (caFile === '' || keyFile === '') throw new PkiError('-renewca needs the CA certificate and key: pass -ca=ca.pem -ca-key=ca-key.pem');
    log('info', 're-generate a CA certificate from CA cert and key');
    const ca = loadCa(caFile, keyFile);
    result = await renewCA(ca.cert, ca.key, keyFile, { log });
  } else {
    const [csrFile, ...extra] = f.args;
    if (csrFile === undefined) throw new FlagError('gencert needs a CSRJSON argument: the request file, or - to read it from standard input');
    if (extra.length > 0) throw new FlagError(`only one argument is accepted (flags go before CSRJSON); unexpected ${JSON.stringify(extra[0])}`);
    const source = csrFile === '-' ? 'standard input' : csrFile;
    const req = parseCertRequest(await readInput(io, csrFile, 'CSRJSON file'), source);
    if (str(f, 'cn') !== '') req.CN = str(f, 'cn');
    if (bool(f, 'initca')) {
      const keyFile = str(f, 'ca-key');
      if (keyFile !== '') {
        log('info', 're-generate a CA certificate from CSR and CA key');
        result = await initCA(req, { log, existingKey: parsePrivateKeyPem(readTextFile(keyFile, '-ca-key file'), keyFile) });
      } else {
        log('info', 'generating a new CA key and certificate from CSR');
        result = await initCA(req, { log });
      }
    } else {
      result = await signed(f, req, log);
    }
  }
  const out: Record<string, string> = { cert: result.cert };
  if (result.csr !== undefined) out.csr = result.csr;
  if (result.key !== undefined) out.key = result.key;
  io.out(`${goJsonMarshal(out)}\n`);
  return 0;
}

async function signed(f: ReturnType<typeof parseGoFlags>, req: ReturnType<typeof parseCertRequest>, log: LogFn): Promise<GenResult> {
  const caFile = str(f, 'ca');
  const keyFile = str(f, 'ca-key');
  if (caFile === '') throw new PkiError('need a CA certificate to sign with: pass -ca=ca.pem (or -initca to make a new CA)');
  if (keyFile === '') throw new PkiError('need the CA key to sign with: pass -ca-key=ca-key.pem');
  const configFile = str(f, 'config');
  const policy = configFile === '' ? builtinPolicy() : parseSigningConfig(readTextFile(configFile, '-config file'), configFile);
  for (const w of policy.warnings) log('warning', w);
  const ca = loadCa(caFile, keyFile);
  if (!ca.cert.isCA) log('warning', `-ca ${caFile} is not a CA certificate (no basic constraints CA:TRUE); TLS peers will not trust what it signs`);
  const hosts = splitHosts(str(f, 'hostname'));
  log('info', 'generate received request');
  return genCert(req, { policy, profile: str(f, 'profile'), ca, ...(hosts ? { hosts } : {}), log });
}
