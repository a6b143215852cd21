// tsetcdutl pki certinfo: what a certificate (-cert) or request (-csr) says, in plain
// words; -json prints a certificate the way `cfssl certinfo -cert` does.

import { createPublicKey } from 'node:crypto';
import { parseCertificateDer, parseCertificatesPem } from '../../pki/cert.js';
import { fetchPeerChain } from '../../pki/remote.js';
import { certinfoJson, describeCertificate } from '../../pki/certinfo.js';
import { parseCsr } from '../../pki/csr.js';
import { PkiError } from '../../pki/errors.js';
import { describeKey } from '../../pki/keys.js';
import { nameText } from '../../pki/dn.js';
import { FlagError, bool, flagDefaults, parseGoFlags, str, type FlagDef } from './pki-flags.js';
import { readInput, type PkiIo } from './pki-io.js';

const FLAGS: FlagDef[] = [
  { name: 'cert', kind: 'string', def: '', usage: 'certificate file to describe (every certificate in it)' },
  { name: 'csr', kind: 'string', def: '', usage: 'certificate signing request file to describe' },
  { name: 'json', kind: 'bool', def: false, usage: "print cfssl certinfo's JSON instead of plain words" },
  { name: 'domain', kind: 'string', def: '', usage: 'describe the certificates the TLS server at host[:port] presents (port 443 if none)' },
];

async function describeCsr(io: PkiIo, file: string): Promise<void> {
  const csr = await parseCsr(await readInput(io, file, 'CSR file'), file);
  const key = describeKey(createPublicKey({ key: csr.spki, format: 'der', type: 'spki' }));
  const sans = [...csr.sans.dns.map((d) => `DNS ${d}`), ...csr.sans.ips.map((i) => `IP ${i}`), ...csr.sans.emails.map((e) => `email ${e}`), ...csr.sans.uris.map((u) => `URI ${u}`)];
  const bc = csr.basicConstraints;
  const ca = bc?.isCA ? `yes${bc.maxPathLen >= 0 ? `, path length ${bc.maxPathLen}` : ''}` : 'no';
  const rows = [
    ['Subject', nameText(csr.subjectDer) || '(empty)'],
    ['Hosts (SANs)', sans.join(', ') || 'none'],
    ['Public key', key.label],
    ['Asks to be a CA', ca],
  ];
  io.out(`Certificate request ${file}\n${rows.map(([k, v]) => `  ${`${k}:`.padEnd(17)} ${v}`).join('\n')}\n`);
}

export async function certinfoCommand(argv: string[], io: PkiIo): Promise<number> {
  const f = parseGoFlags(argv, FLAGS);
  if (f.help) {
    io.err(`Usage of tsetcdutl pki certinfo:\n    tsetcdutl pki certinfo -cert FILE [-json]\n    tsetcdutl pki certinfo -csr FILE\n    tsetcdutl pki certinfo -domain HOST[:PORT] [-json]\n\nFlags:\n${flagDefaults(FLAGS)}`);
    return 0;
  }
  if (f.args.length > 0) throw new FlagError(`certinfo takes no arguments (got ${JSON.stringify(f.args[0])}); use -cert FILE`);
  const certFile = str(f, 'cert');
  const csrFile = str(f, 'csr');
  const domain = str(f, 'domain');
  if (domain !== '') {
    const chain = await fetchPeerChain(domain);
    const certs = chain.map((der) => parseCertificateDer(der, domain));
    io.out(bool(f, 'json') ? certinfoJson(certs[0]!) : certs.map((c) => describeCertificate(c)).join('\n'));
    return 0;
  }
  if (certFile === '' && csrFile === '') throw new FlagError('certinfo needs -cert FILE, -csr FILE or -domain HOST:PORT');
  if (csrFile !== '') {
    if (bool(f, 'json')) throw new PkiError('-json describes certificates only; drop it to describe the CSR');
    await describeCsr(io, csrFile);
    return 0;
  }
  const certs = parseCertificatesPem(await readInput(io, certFile, 'certificate file'), certFile);
  if (bool(f, 'json')) io.out(certinfoJson(certs[0]!));
  else io.out(certs.map((c) => describeCertificate(c)).join('\n'));
  return 0;
}
