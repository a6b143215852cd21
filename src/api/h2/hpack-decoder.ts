// HPACK decoder (RFC 7541): integer and string primitives, Huffman strings, the static
// table and a size-bounded dynamic table with size updates.
//
// Errors in the encoding itself (bad index, truncated data, bad Huffman, a size update
// in the wrong place or above our limit) throw H2Error(COMPRESSION_ERROR): the peer's
// encoder and our decoder no longer agree, so the connection cannot continue. A field
// that decodes fine but is not valid HTTP (upper-case or odd characters in a name, CR,
// LF or NUL in a value) only marks the block malformed: that is a stream error, and
// the block must still be decoded in full to keep the dynamic table in step.

import { DEFAULT_HEADER_TABLE_SIZE, ErrorCode, H2Error } from './frames.js';
import { huffmanDecode, huffmanMaxDecodedLength } from './huffman.js';
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from './static-table.js';

export const DecodeStatus = {
  OK: 0,
  /** the header list is larger than the caller's limit; `out` holds only the first fields */
  TOO_LARGE: 1,
  /** some field is not a valid HTTP field; `out` is complete */
  MALFORMED: 2,
} as const;
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

/** Per RFC 7541 4.1: a field's size is its name and value length plus 32. */
export const ENTRY_OVERHEAD = 32;

interface Entry {
  readonly name: string;
  readonly value: string;
  readonly size: number;
  /** the field was not valid HTTP when it was inserted */
  readonly malformed: boolean;
}

// Octets allowed in a field name (RFC 9110 token characters, lower-case letters only).
const NAME_OCTET = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_OCTET[c.charCodeAt(0)] = 1;

const COLON = 0x3a;

function compressionError(msg: string): H2Error {
  return new H2Error(ErrorCode.COMPRESSION_ERROR, `hpack: ${msg}`);
}

export class HpackDecoder {
  /** dynamic table, oldest first; live entries are entries[head..] */
  private entries: Entry[] = [];
  private head = 0;
  private tableSize = 0;
  private maxTableSize: number;
  private scratch = Buffer.allocUnsafe(1024);
  /** read position inside the block being decoded */
  private pos = 0;
  /** the field being decoded is not valid HTTP */
  private fieldMalformed = false;

  /** @param limit our SETTINGS_HEADER_TABLE_SIZE: the largest table the peer may ask for */
  constructor(private readonly limit: number = DEFAULT_HEADER_TABLE_SIZE) {
    this.maxTableSize = limit;
  }

  /**
   * Decodes one complete header block buf[start, end) and appends name, value pairs
   * to `out` (flat: out[2k] is a name, out[2k+1] its value). Stops appending once the
   * header list size would exceed `maxListSize`, but always decodes the whole block.
   */
  decode(buf: Buffer, start: number, end: number, out: string[], maxListSize: number = Infinity): DecodeStatus {
    this.pos = start;
    let listSize = 0;
    let tooLarge = false;
    let malformed = false;
    let fieldSeen = false;
    while (this.pos < end) {
      const b = buf[this.pos]!;
      let name: string;
      let value: string;
      this.fieldMalformed = false;
      if (b & 0x80) {
        // Indexed header field.
        const index = this.integer(buf, end, 7);
        if (index === 0) throw compressionError('index 0');
        if (index <= STATIC_TABLE_LENGTH) {
          const e = STATIC_TABLE[index - 1]!;
          name = e[0];
          value = e[1];
        } else {
          const e = this.dynamic(index);
          name = e.name;
          value = e.value;
          this.fieldMalformed = e.malformed;
        }
      } else if (b & 0x40) {
        // Literal with incremental indexing.
        const index = this.integer(buf, end, 6);
        name = index === 0 ? this.string(buf, end, true) : this.nameAt(index);
        value = this.string(buf, end, false);
        this.insert(name, value, this.fieldMalformed);
      } else if (b & 0x20) {
        // Dynamic table size update: only before the first field of a block.
        if (fieldSeen) throw compressionError('table size update after a field');
        const size = this.integer(buf, end, 5);
        if (size > this.limit) throw compressionError(`table size update ${size} above ${this.limit}`);
        this.maxTableSize = size;
        this.evictTo(size);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001).
        const index = this.integer(buf, end, 4);
        name = index === 0 ? this.string(buf, end, true) : this.nameAt(index);
        value = this.string(buf, end, false);
      }
      fieldSeen = true;
      if (this.fieldMalformed) malformed = true;
      if (!tooLarge) {
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize > maxListSize) tooLarge = true;
        else out.push(name, value);
      }
    }
    return tooLarge ? DecodeStatus.TOO_LARGE : malformed ? DecodeStatus.MALFORMED : DecodeStatus.OK;
  }

  /** Current dynamic table size in octets (RFC 7541 4.1). */
  get dynamicTableSize(): number {
    return this.tableSize;
  }

  /** Dynamic table entries, newest first (index 62 first), for tests and debugging. */
  dynamicTableEntries(): Array<[string, string]> {
    const list: Array<[string, string]> = [];
    for (let i = this.entries.length - 1; i >= this.head; i--) list.push([this.entries[i]!.name, this.entries[i]!.value]);
    return list;
  }

  private dynamic(index: number): Entry {
    const d = index - STATIC_TABLE_LENGTH;
    const live = this.entries.length - this.head;
    if (d > live) throw compressionError(`index ${index} beyond table (${STATIC_TABLE_LENGTH + live} entries)`);
    return this.entries[this.entries.length - d]!;
  }

  private nameAt(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return STATIC_TABLE[index - 1]![0];
    const e = this.dynamic(index);
    if (e.malformed) this.fieldMalformed = true;
    return e.name;
  }

  private insert(name: string, value: string, malformed: boolean): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.maxTableSize) {
      // Larger than the whole table: empties it and is not added (RFC 7541 4.4).
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxTableSize - size);
    this.entries.push({ name, value, size, malformed });
    this.tableSize += size;
  }

  private evictTo(size: number): void {
    while (this.tableSize > size) {
      this.tableSize -= this.entries[this.head]!.size;
      this.head++;
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 32 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Reads an integer with an N-bit prefix (RFC 7541 5.1) at this.pos. */
  private integer(buf: Uint8Array, end: number, prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = buf[this.pos++]! & max;
    if (value < max) return value;
    let scale = 1;
    for (;;) {
      if (this.pos >= end) throw compressionError('truncated integer');
      const b = buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) break;
      scale *= 128;
      // Four continuation octets already give 2^28 + prefix; nothing valid needs more.
      if (scale > 2 ** 28) throw compressionError('integer overflow');
    }
    if (value > 0xffffffff) throw compressionError('integer overflow');
    return value;
  }

  /** Reads a string literal (RFC 7541 5.2) at this.pos, validating it as a name or a value. */
  private string(buf: Buffer, end: number, isName: boolean): string {
    if (this.pos >= end) throw compressionError('truncated string');
    const huffman = (buf[this.pos]! & 0x80) !== 0;
    const length = this.integer(buf, end, 7);
    if (length > end - this.pos) throw compressionError('string longer than the block');
    let src: Buffer = buf;
    let from = this.pos;
    let to = from + length;
    this.pos = to;
    if (huffman) {
      const need = huffmanMaxDecodedLength(length);
      if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
      to = huffmanDecode(buf, from, to, this.scratch);
      from = 0;
      src = this.scratch;
    }
    if (isName) {
      if (to === from) {
        this.fieldMalformed = true;
      } else {
        for (let i = src[from] === COLON ? from + 1 : from; i < to; i++) {
          if (NAME_OCTET[src[i]!] === 0) {
            this.fieldMalformed = true;
            break;
          }
        }
      }
    } else {
      for (let i = from; i < to; i++) {
        const c = src[i]!;
        if (c === 0x0a || c === 0x0d || c === 0) {
          this.fieldMalformed = true;
          break;
        }
      }
    }
    return src.toString('latin1', from, to);
  }
}

