// Tutorial 004's certificates made with the real cfssl from the tutorial's JSON (hosts on
// loopback): a CA and a member certificate that share the subject "C=CN, ST=BeiJing,
// L=BeiJing, O=etcd, OU=CA, CN=etcd", with no authority key identifier — what OpenSSL reads
// as a self-signed member certificate and Go's verifier accepts. Shared by the tests that
// check both server and client verify such certificates by Go's rules.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CA_CONFIG = { signing: { default: { expiry: '876000h' }, profiles: { etcd: { expiry: '876000h', usages: ['signing', 'key encipherment', 'server auth', 'client auth'] } } } };
const NAMES = [{ C: 'CN', L: 'BeiJing', ST: 'BeiJing', O: 'etcd', OU: 'CA' }];
const CA_CSR = { CN: 'etcd', key: { algo: 'rsa', size: 2048 }, names: NAMES };
const ETCD_CSR = { CN: 'etcd', hosts: ['127.0.0.1', '172.17.0.1', '10.0.8.4'], key: { algo: 'rsa', size: 2048 }, names: NAMES };

export interface Pair {
  cert: string;
  key: string;
}

/** Runs `cfssl gencert ARGS | cfssljson -bare BARE` in `dir`, as the tutorial does. */
export function cfssl(dir: string, args: string[], bare: string): Pair {
  const json = execFileSync('cfssl', ['gencert', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync('cfssljson', ['-bare', bare], { cwd: dir, input: json, stdio: ['pipe', 'pipe', 'pipe'] });
  return { cert: path.join(dir, `${bare}.pem`), key: path.join(dir, `${bare}-key.pem`) };
}

/** A CA and a member certificate made the tutorial's way in `dir`. */
export function tutorialPki(dir: string): { ca: string; member: Pair; caKey: string } {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'ca-config.json'), JSON.stringify(CA_CONFIG));
  fs.writeFileSync(path.join(dir, 'ca-csr.json'), JSON.stringify(CA_CSR));
  fs.writeFileSync(path.join(dir, 'etcd-csr.json'), JSON.stringify(ETCD_CSR));
  const ca = cfssl(dir, ['-initca', 'ca-csr.json'], 'ca');
  const member = cfssl(dir, ['-ca=ca.pem', '-ca-key=ca-key.pem', '-config=ca-config.json', '-profile=etcd', 'etcd-csr.json'], 'etcd');
  return { ca: ca.cert, caKey: ca.key, member };
}

/** The tutorial's member certificate again (in a `tutorialPki` dir), but valid only during 2020. */
export function expiredMember(dir: string): Pair {
  const profile = { expiry: '8760h', not_before: '2020-01-01T00:00:00Z', not_after: '2021-01-01T00:00:00Z', usages: CA_CONFIG.signing.profiles.etcd.usages };
  fs.writeFileSync(path.join(dir, 'old-config.json'), JSON.stringify({ signing: { default: { expiry: '8760h' }, profiles: { old: profile } } }));
  return cfssl(dir, ['-ca=ca.pem', '-ca-key=ca-key.pem', '-config=old-config.json', '-profile=old', 'etcd-csr.json'], 'expired');
}
