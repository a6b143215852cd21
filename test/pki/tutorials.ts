// The certificate steps of the tutorials in /work/shared/tutorials, as they are written
// there, with their JSON files copied unchanged into fixtures/. `cfssl` and `cfssljson`
// are the only words swapped (for `tsetcdutl pki` and `tsetcdutl pki json`), and the
// tutorials' directories for a temporary one.

import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, TSETCDUTL, sh } from './helpers.js';

export interface Tutorial {
  name: string;
  /** shell lines, run in a directory holding the fixture JSON; $D is that directory */
  script: string;
}

export const TUTORIALS: Tutorial[] = [
  {
    // 000: an etcd root CA and three members, default signing profile, long-flag style
    name: 'tutorial-000',
    script: `
cfssl gencert --initca=true $D/etcd-root-ca-csr.json | cfssljson --bare $D/etcd-root-ca
for s in s1 s2 s3; do
cfssl gencert \\
  --ca $D/etcd-root-ca.pem \\
  --ca-key $D/etcd-root-ca-key.pem \\
  --config $D/etcd-gencert.json \\
  $D/$s-ca-csr.json | cfssljson --bare $D/$s
done`,
  },
  {
    // 001: a 100-year CA ("ca": {"expiry"}) and a member from the etcd-cluster profile
    name: 'tutorial-001',
    script: `
cfssl gencert -initca ca-csr.json | cfssljson -bare ca
cfssl gencert -ca=$D/ca.pem \\
    -ca-key=$D/ca-key.pem \\
    -config=$D/ca-config.json \\
    -profile=etcd-cluster $D/etcd-csr.json | cfssljson -bare etcd`,
  },
  {
    // 003: server and client certificates whose hosts come from -hostname
    name: 'tutorial-003',
    script: `
cfssl gencert -initca ca-csr.json | cfssljson -bare ca
cfssl gencert \\
  -ca=./ca.pem \\
  -ca-key=./ca-key.pem \\
  -config=./ca-config.json \\
  -hostname=127.0.0.1,kubernetes.default \\
  -profile=kubernetes etcd-csr.json | cfssljson -bare etcd # -> etcd-key.pem, etcd.pem
cfssl gencert \\
  -ca=./ca.pem \\
  -ca-key=./ca-key.pem \\
  -config=./ca-config.json \\
  -hostname=127.0.0.1,kubernetes.default \\
  -profile=kubernetes \\
  etcd-client-csr.json | cfssljson -bare etcd-client # -> etcd-client-key.pem, etcd-client.pem
cfssl gencert -initca ca-csr-issue1034.json | cfssljson -bare ca1034
cfssl gencert -renewca -ca ca.pem -ca-key ca-key.pem | cfssljson -bare ca-renewed`,
  },
  {
    // 004: a CA and one certificate for every etcd listener, profile "etcd"
    name: 'tutorial-004',
    script: `
cfssl gencert -initca ca-csr.json | cfssljson -bare ca
cfssl gencert \\
      -ca=ca.pem \\
      -ca-key=ca-key.pem \\
      -config=ca-config.json \\
      -profile=etcd \\
  etcd-csr.json | cfssljson -bare etcd`,
  },
];

/** The script with cfssl swapped for tsetcdutl pki, or left alone to run the real cfssl. */
export function scriptFor(t: Tutorial, tool: 'tsetcdutl' | 'cfssl'): string {
  if (tool === 'cfssl') return t.script;
  return t.script.replace(/\bcfssljson\b/g, `${TSETCDUTL} pki json`).replace(/\bcfssl\b(?! pki json)/g, `${TSETCDUTL} pki`);
}

/** Copies a tutorial's JSON into `dir` and runs its steps there; throws with stderr on failure. */
export function runTutorial(t: Tutorial, dir: string, tool: 'tsetcdutl' | 'cfssl' = 'tsetcdutl'): string {
  for (const f of readdirSync(path.join(FIXTURES, t.name))) copyFileSync(path.join(FIXTURES, t.name, f), path.join(dir, f));
  const r = sh(`set -e\nD=${dir}\n${scriptFor(t, tool)}`, dir);
  if (r.status !== 0) throw new Error(`${t.name} with ${tool} failed (${r.status}): ${r.stderr}`);
  return r.stderr;
}
