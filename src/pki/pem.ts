// PEM as Go's encoding/pem writes it: 64-character base64 lines, "\n" endings, a final "\n".

import { PkiError } from './errors.js';

export function toPem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

export interface PemBlock {
  type: string;
  der: Buffer;
}

/** Every PEM block in `text`, in order; text between blocks is skipped as Go skips it. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const body = m[2]!.split('\n').filter((l) => !l.includes(':')).join('').replace(/\s+/g, '');
    out.push({ type: m[1]!, der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** The DER of every block of `type` (several types may be allowed); `file` names the input in errors. */
export function pemDerOf(text: string, types: readonly string[], file: string, what: string): Buffer[] {
  const blocks = pemBlocks(text);
  const found = blocks.filter((b) => types.includes(b.type)).map((b) => b.der);
  if (found.length === 0) {
    const seen = blocks.length ? `only ${[...new Set(blocks.map((b) => b.type))].join(', ')} blocks` : 'no PEM data';
    throw new PkiError(`${file} holds ${seen}, not ${what}; pass the file that holds ${what}`);
  }
  return found;
}
