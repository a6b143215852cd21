// --client-crl-file / --peer-crl-file, checked as etcd checks them.
//
// Contract: after the handshake verified the chain, a connection is refused when the
// serial number of any certificate the client presented is listed in the CRL; etcd's
// message: "transport: certificate serial <hex> revoked". Like etcd, only the serials
// count: the CRL's own dates and signature are not judged (OpenSSL's CRL check would
// refuse every client once the CRL's nextUpdate passed, which etcd never does). The file
// may be PEM or DER and is read again whenever it changes on disk.
import fs from 'node:fs';
import type tls from 'node:tls';
import { x509 } from '../pki/x509.js';

interface Loaded {
  stamp: string;
  serials: ReadonlySet<string>;
}

/** Lower-case hex without leading zeros: how Go's big.Int bytes print with %x. */
function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** The revoked serials of a CRL file's bytes (PEM or DER). */
export function revokedSerials(bytes: Buffer): Set<string> {
  const text = bytes.toString('latin1');
  const crl = text.includes('-----BEGIN') ? new x509.X509Crl(text) : new x509.X509Crl(bytes);
  return new Set(crl.entries.map((e) => normalSerial(e.serialNumber)));
}

export class RevocationList {
  private loaded: Loaded | undefined;

  constructor(readonly file: string) {}

  private serials(): ReadonlySet<string> {
    const s = fs.statSync(this.file);
    const stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    if (this.loaded?.stamp !== stamp) this.loaded = { stamp, serials: revokedSerials(fs.readFileSync(this.file)) };
    return this.loaded.serials;
  }

  /** Why the connection must be refused, or null when none of its certificates is revoked. */
  check(socket: tls.TLSSocket): string | null {
    let serials: ReadonlySet<string>;
    try {
      serials = this.serials();
    } catch (err) {
      return `${this.file}: ${(err as Error).message}`;
    }
    const seen = new Set<string>();
    for (let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c && c.serialNumber && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
      seen.add(c.fingerprint256);
      const serial = normalSerial(c.serialNumber);
      if (serials.has(serial)) return `transport: certificate serial ${serial} revoked`;
    }
    return null;
  }
}
