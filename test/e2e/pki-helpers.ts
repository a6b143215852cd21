// Certificates for e2e tests, made with our own `tsetcdutl pki` from cfssl-style JSON
// (the tutorials' workflow), so the tests exercise the tool too.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import type { X509Crl } from '@peculiar/x509';
import { x509 } from '../../src/pki/x509.js';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './harness.js';

const UTL = path.join(REPO_ROOT, 'bin/tsetcdutl');

function pki(dir: string, args: string[], bare: string): void {
  const json = execFileSync(UTL, ['pki', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync(UTL, ['pki', 'json', '-bare', bare], { cwd: dir, input: json, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface TestPki {
  dir: string;
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate (CN=`clientCn`). */
export function makePki(dir: string, name = 'ca', clientCn = 'e2e-client'): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const w = (f: string, o: unknown) => fs.writeFileSync(path.join(dir, f), JSON.stringify(o));
  w(`${name}-csr.json`, { CN: `${name} test CA`, key: { algo: 'ecdsa', size: 256 }, names: [{ O: 'tsetcd tests' }] });
  w('config.json', {
    signing: {
      default: { expiry: '8760h' },
      profiles: {
        server: { expiry: '8760h', usages: ['signing', 'key encipherment', 'server auth', 'client auth'] },
        client: { expiry: '8760h', usages: ['signing', 'key encipherment', 'client auth'] },
      },
    },
  });
  w(`${name}-server-csr.json`, { CN: 'member', hosts: ['127.0.0.1', 'localhost'], key: { algo: 'ecdsa', size: 256 } });
  w(`${name}-client-csr.json`, { CN: clientCn, hosts: [''], key: { algo: 'ecdsa', size: 256 } });
  pki(dir, ['gencert', '-initca', `${name}-csr.json`], name);
  const signing = [`-ca=${name}.pem`, `-ca-key=${name}-key.pem`, '-config=config.json'];
  pki(dir, ['gencert', ...signing, '-profile=server', `${name}-server-csr.json`], `${name}-server`);
  pki(dir, ['gencert', ...signing, '-profile=client', `${name}-client-csr.json`], `${name}-client`);
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: p(`${name}.pem`),
    server: { cert: p(`${name}-server.pem`), key: p(`${name}-server-key.pem`) },
    client: { cert: p(`${name}-client.pem`), key: p(`${name}-client-key.pem`) },
  };
}

/**
 * One more certificate from an existing test CA, signed under a one-off profile (usages,
 * not_before/not_after...). Returns the cert and key paths.
 */
export function issue(p: TestPki, caName: string, bare: string, profile: Record<string, unknown>, csr: Record<string, unknown>): { cert: string; key: string } {
  fs.writeFileSync(path.join(p.dir, `${bare}-config.json`), JSON.stringify({ signing: { default: { expiry: '8760h' }, profiles: { one: profile } } }));
  fs.writeFileSync(path.join(p.dir, `${bare}-csr.json`), JSON.stringify({ key: { algo: 'ecdsa', size: 256 }, ...csr }));
  pki(p.dir, ['gencert', `-ca=${caName}.pem`, `-ca-key=${caName}-key.pem`, `-config=${bare}-config.json`, '-profile=one', `${bare}-csr.json`], bare);
  return { cert: path.join(p.dir, `${bare}.pem`), key: path.join(p.dir, `${bare}-key.pem`) };
}

/** A CRL signed by the test CA listing `serials`, whose nextUpdate is already past. */
export async function expiredCrl(p: TestPki, caKey: string, serials: string[]): Promise<X509Crl> {
  const pkcs8 = createPrivateKey(fs.readFileSync(caKey)).export({ format: 'der', type: 'pkcs8' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const issuer = new X509Certificate(fs.readFileSync(p.ca)).subject.split('\n').reverse().join(', ');
  const day = 24 * 3600 * 1000;
  return x509.X509CrlGenerator.create({
    issuer,
    thisUpdate: new Date(Date.now() - 30 * day),
    nextUpdate: new Date(Date.now() - 20 * day),
    entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(Date.now() - 30 * day) })),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    signingKey: signingKey as never,
  });
}
