// The certificates of a `tsetcdutl cluster up` cluster, made the way the tutorials make
// them with cfssl: the request and signing JSON files are written next to what they
// produce (ca.pem, m1.pem, client.pem ... with their -key.pem files), so the directory
// shows the workflow and `tsetcdutl pki gencert` can re-issue any of them by hand.
import fs from 'node:fs';
import path from 'node:path';
import { readCertificates } from '../../pki/cert.js';
import { parseSigningConfig } from '../../pki/config.js';
import { genCert, initCA, type GenResult } from '../../pki/gencert.js';
import { parsePrivateKeyPem } from '../../pki/keys.js';
import { parseCertRequest } from '../../pki/request.js';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  ca: string;
  members: Map<string, KeyPair>;
  client: KeyPair;
}

/** The hosts every member certificate covers: the cluster listens on loopback only. */
export const MEMBER_HOSTS = ['127.0.0.1', 'localhost', '::1'];

/** The client certificate's CN; with auth enabled, etcd takes it as the user name. */
export const CLIENT_CN = 'root';

const CA_CONFIG = {
  signing: {
    default: { expiry: '87600h' },
    profiles: {
      peer: { expiry: '87600h', usages: ['signing', 'key encipherment', 'server auth', 'client auth'] },
      client: { expiry: '87600h', usages: ['signing', 'key encipherment', 'client auth'] },
    },
  },
};

function writeJson(file: string, value: unknown): void {
  if (!fs.existsSync(file)) fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function writeResult(dir: string, bare: string, r: GenResult): void {
  // key first, private: a crash between the writes never leaves a certificate without its key
  if (r.key) fs.writeFileSync(path.join(dir, `${bare}-key.pem`), r.key, { mode: 0o600 });
  if (r.csr) fs.writeFileSync(path.join(dir, `${bare}.csr`), r.csr);
  fs.writeFileSync(path.join(dir, `${bare}.pem`), r.cert);
}

function pair(dir: string, bare: string): KeyPair {
  return { cert: path.join(dir, `${bare}.pem`), key: path.join(dir, `${bare}-key.pem`) };
}

function exists(p: KeyPair): boolean {
  return fs.existsSync(p.cert) && fs.existsSync(p.key);
}

/**
 * Makes what is missing under `dir`: the CA, one certificate per member (used for both
 * client and peer traffic, as in the tutorials) and a client certificate. Existing files
 * are kept, so a cluster restarted from the same directory keeps its identity.
 */
export async function ensureClusterPki(dir: string, memberNames: readonly string[], log: (line: string) => void): Promise<ClusterPki> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => path.join(dir, name);
  writeJson(file('ca-csr.json'), { CN: 'tsetcd cluster CA', key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd', OU: 'cluster up' }], ca: { expiry: '87600h' } });
  writeJson(file('ca-config.json'), CA_CONFIG);
  const ca = pair(dir, 'ca');
  if (!exists(ca)) {
    const req = parseCertRequest(fs.readFileSync(file('ca-csr.json'), 'utf8'), file('ca-csr.json'));
    writeResult(dir, 'ca', await initCA(req));
    log(`made a CA: ${ca.cert}`);
  }
  const caCert = readCertificates(ca.cert, 'CA certificate')[0]!;
  const caKey = parsePrivateKeyPem(fs.readFileSync(ca.key), ca.key);
  const policy = parseSigningConfig(fs.readFileSync(file('ca-config.json'), 'utf8'), file('ca-config.json'));
  const issue = async (bare: string, csr: object, profile: string): Promise<KeyPair> => {
    writeJson(file(`${bare}-csr.json`), csr);
    const p = pair(dir, bare);
    if (exists(p)) return p;
    const req = parseCertRequest(fs.readFileSync(file(`${bare}-csr.json`), 'utf8'), file(`${bare}-csr.json`));
    writeResult(dir, bare, await genCert(req, { policy, profile, ca: { cert: caCert, key: caKey } }));
    log(`made a ${profile} certificate: ${p.cert}`);
    return p;
  };
  const members = new Map<string, KeyPair>();
  for (const name of memberNames) {
    members.set(name, await issue(name, { CN: name, hosts: MEMBER_HOSTS, key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd' }] }, 'peer'));
  }
  const client = await issue('client', { CN: CLIENT_CN, hosts: [''], key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd' }] }, 'client');
  return { dir, ca: ca.cert, members, client };
}
