// Distinguished names read from DER into the two forms pki shows: the one-line text
// ("C=US, O=etcd, CN=s1", in the certificate's own order, RDN values joined by "+") and
// the attribute values by short name. The forms are those @peculiar/x509's Name gave, so
// messages and certinfo output did not change when it stopped being loaded:
//  - short names CN, L, ST, O, OU, C, DC, E, G, I, SN, T; any other type by dotted OID;
//  - string values decoded (UTF8String, PrintableString, IA5String, T61String as bytes,
//    BMPString, UniversalString); other values as "#" and the hex of their DER element;
//  - in the text form, , + " \ < > ; are escaped with "\", so are a leading space or "#"
//    and a trailing space, and the first CR, LF or tab becomes "\" and its hex code.
import { children, oidText, readNode, type Node } from './der.js';

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
};

interface Attribute {
  type: string;
  /** the decoded string, or undefined when the value is not a string type */
  text: string | undefined;
  raw: Buffer;
}

function swapPairs(b: Buffer): Buffer {
  const out = Buffer.from(b);
  return out.length % 2 === 0 ? out.swap16() : out;
}

function decodeString(v: Node): string | undefined {
  switch (v.tag) {
    case 0x0c:
      return v.body.toString('utf8');
    case 0x13:
    case 0x16:
    case 0x14:
      return v.body.toString('latin1');
    case 0x1e:
      return swapPairs(v.body).toString('utf16le');
    case 0x1c: {
      let s = '';
      for (let i = 0; i + 4 <= v.body.length; i += 4) s += String.fromCodePoint(v.body.readUInt32BE(i));
      return s;
    }
    default:
      return undefined;
  }
}

function rdnsOf(nameDer: Buffer): Attribute[][] {
  return children(readNode(nameDer).body).map((rdn) =>
    children(rdn.body).map((atv) => {
      const [type, value] = children(atv.body);
      if (!type || !value) throw new Error('malformed AttributeTypeAndValue');
      const oid = oidText(type.body);
      return { type: SHORT_NAMES[oid] ?? oid, text: decodeString(value), raw: value.raw };
    }),
  );
}

function escapeValue(s: string): string {
  return s
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/([\r\n\t])/, (c) => `\\${Buffer.from(c, 'utf8').toString('hex').toUpperCase()}`);
}

const valueOf = (a: Attribute): string => a.text ?? `#${a.raw.toString('hex')}`;

/** "C=US, O=etcd, CN=s1" */
export function nameText(nameDer: Buffer): string {
  return rdnsOf(nameDer)
    .map((rdn) => rdn.map((a) => `${a.type}=${a.text !== undefined ? escapeValue(a.text) : valueOf(a)}`).join('+'))
    .join(', ');
}

/** attribute values by short name (or OID), in the name's order */
export function nameAttributes(nameDer: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rdn of rdnsOf(nameDer)) for (const a of rdn) out.set(a.type, [...(out.get(a.type) ?? []), valueOf(a)]);
  return out;
}
