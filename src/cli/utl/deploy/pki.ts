// Certificates for a generated deployment, made with the built-in cfssl-compatible pki
// the way the tutorials make them: a CA, one certificate per member used for client and
// peer traffic (SANs from the member's host, its name and loopback, so local health
// checks work), and a client certificate whose CN is `root` (the user etcd takes from a
// client certificate once auth is on). The cfssl request JSON is written beside each
// file, so `tsetcdutl pki gencert` (or cfssl) can re-issue any of them by hand.
// Existing files are kept: regenerating into the same directory keeps the cluster's CA.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { readCertificates } from '../../../pki/cert.js';
import { parseSigningConfig } from '../../../pki/config.js';
import { genCert, initCA, type GenResult } from '../../../pki/gencert.js';
import { parsePrivateKeyPem } from '../../../pki/keys.js';
import { parseCertRequest } from '../../../pki/request.js';

export const CLIENT_CN = 'root';

const TEN_YEARS = '87600h';
const SIGNING = {
  signing: {
    default: { expiry: TEN_YEARS },
    profiles: {
      peer: { expiry: TEN_YEARS, usages: ['signing', 'key encipherment', 'server auth', 'client auth'] },
      client: { expiry: TEN_YEARS, usages: ['signing', 'key encipherment', 'client auth'] },
    },
  },
};

export interface IssueRequest {
  /** file stem: <bare>.pem, <bare>-key.pem, <bare>-csr.json */
  bare: string;
  cn: string;
  hosts: string[];
  profile: 'peer' | 'client';
}

function writeResult(dir: string, bare: string, r: GenResult): void {
  // the key first and private: a crash between writes never leaves a certificate without its key
  if (r.key) fs.writeFileSync(path.join(dir, `${bare}-key.pem`), r.key, { mode: 0o600 });
  if (r.csr) fs.writeFileSync(path.join(dir, `${bare}.csr`), r.csr);
  fs.writeFileSync(path.join(dir, `${bare}.pem`), r.cert);
}

function has(dir: string, bare: string): boolean {
  return fs.existsSync(path.join(dir, `${bare}.pem`)) && fs.existsSync(path.join(dir, `${bare}-key.pem`));
}

/** The SANs of a member: its host, its name (as a DNS name) and loopback. */
export function memberHosts(host: string, name: string): string[] {
  const out = [host, name, 'localhost', '127.0.0.1', '::1'];
  if (!net.isIP(host)) out.push(host.split('.')[0]!);
  return [...new Set(out)];
}

/** Makes the CA (if missing) and every certificate in `requests` that is missing under `dir`. */
export async function ensurePki(dir: string, requests: IssueRequest[], log: (line: string) => void): Promise<void> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => path.join(dir, name);
  if (!has(dir, 'ca')) {
    const csr = { CN: 'tsetcd CA', key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd' }], ca: { expiry: TEN_YEARS } };
    fs.writeFileSync(file('ca-csr.json'), JSON.stringify(csr, null, 2) + '\n');
    writeResult(dir, 'ca', await initCA(parseCertRequest(JSON.stringify(csr), file('ca-csr.json'))));
    log(`made a CA: ${file('ca.pem')}`);
  }
  fs.writeFileSync(file('ca-config.json'), JSON.stringify(SIGNING, null, 2) + '\n');
  const ca = { cert: readCertificates(file('ca.pem'), 'CA certificate')[0]!, key: parsePrivateKeyPem(fs.readFileSync(file('ca-key.pem')), file('ca-key.pem')) };
  const policy = parseSigningConfig(JSON.stringify(SIGNING), file('ca-config.json'));
  for (const r of requests) {
    if (has(dir, r.bare)) continue;
    const csr = { CN: r.cn, hosts: r.hosts, key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd' }] };
    fs.writeFileSync(file(`${r.bare}-csr.json`), JSON.stringify(csr, null, 2) + '\n');
    writeResult(dir, r.bare, await genCert(parseCertRequest(JSON.stringify(csr), file(`${r.bare}-csr.json`)), { policy, profile: r.profile, ca }));
    log(`made a ${r.profile} certificate for ${r.cn}: ${file(`${r.bare}.pem`)}`);
  }
}
