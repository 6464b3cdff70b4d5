/**
 * A lead file's text encoding, read and written back the same way: UTF-8 (with or without a BOM) or,
 * when the bytes are not valid UTF-8, Windows-1252 (what Excel writes in France). Windows-1252 is decoded
 * by a table that maps every byte to one character and back (the five bytes Windows-1252 leaves undefined
 * map to U+0081…U+009D, as WHATWG does), so a row written back is the same bytes as read. Node's own
 * TextDecoder('windows-1252') reads Latin-1 without small-ICU data: not used. Pure: no I/O.
 */

export type TextEncoding = 'utf-8' | 'windows-1252';

export interface FileEncoding {
  readonly encoding: TextEncoding;
  /** The file starts with a UTF-8 byte-order mark (kept on every file written). */
  readonly bom: boolean;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** Windows-1252 bytes 0x80…0x9F as Unicode code points (undefined bytes map to themselves). */
const CP1252_HIGH: readonly number[] = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];
const CP1252_DECODE = new Map<string, string>(CP1252_HIGH.map((cp, i) => [String.fromCharCode(0x80 + i), String.fromCodePoint(cp)]));
const CP1252_ENCODE = new Map<string, string>(CP1252_HIGH.map((cp, i) => [String.fromCodePoint(cp), String.fromCharCode(0x80 + i)]));
const CP1252_SPECIALS = new RegExp(`[${CP1252_HIGH.filter((cp) => cp > 0xff).map((cp) => String.fromCodePoint(cp)).join('')}]|[^\\u0000-\\u00ff]`, 'g');

/** True when `bytes` starts with the UTF-8 BOM. */
export function hasUtf8Bom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === UTF8_BOM[0] && bytes[1] === UTF8_BOM[1] && bytes[2] === UTF8_BOM[2];
}

/**
 * Tells whether a byte stream is valid UTF-8, fed chunk by chunk (a character may straddle two chunks):
 * a whole-file verdict in constant memory. An invalid byte anywhere makes the file Windows-1252.
 */
export class Utf8Check {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #valid = true;

  get valid(): boolean {
    return this.#valid;
  }

  push(bytes: Uint8Array): void {
    if (!this.#valid) return;
    try {
      this.#decoder.decode(bytes, { stream: true });
    } catch {
      this.#valid = false;
    }
  }

  /** The verdict once every byte was pushed (a character cut at the end is invalid). */
  end(): boolean {
    if (!this.#valid) return false;
    try {
      this.#decoder.decode();
    } catch {
      this.#valid = false;
    }
    return this.#valid;
  }
}

/** A streaming decoder for one encoding (a UTF-8 BOM, if any, is dropped from the text by TextDecoder). */
export class TextReader {
  readonly #utf8: InstanceType<typeof TextDecoder> | null;

  constructor(encoding: FileEncoding) {
    this.#utf8 = encoding.encoding === 'utf-8' ? new TextDecoder('utf-8') : null;
  }

  decode(bytes: Uint8Array): string {
    if (this.#utf8 !== null) return this.#utf8.decode(bytes, { stream: true });
    return decodeCp1252(bytes);
  }

  end(): string {
    return this.#utf8 === null ? '' : this.#utf8.decode();
  }
}

function decodeCp1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return latin1.replace(/[\u0080-\u009f]/g, (c) => CP1252_DECODE.get(c) ?? c);
}

/** Text to bytes in the file's encoding. A character Windows-1252 cannot hold becomes `?` (never in a row read from the file). */
export function encodeText(text: string, encoding: TextEncoding): Buffer {
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  return Buffer.from(
    text.replace(CP1252_SPECIALS, (c) => CP1252_ENCODE.get(c) ?? '?'),
    'latin1',
  );
}

/** The BOM bytes to start a written file with, if the input had one. */
export function bomBytes(encoding: FileEncoding): Buffer {
  return encoding.bom ? Buffer.from(UTF8_BOM) : Buffer.alloc(0);
}
