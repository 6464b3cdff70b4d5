/**
 * A streaming CSV record reader: text goes in chunk by chunk, complete records come out with their raw
 * text (written back unchanged, so quoting is kept as the file had it), their fields, their physical line
 * and their own line ending. Quoted fields may hold separators, line breaks and doubled quotes. Memory
 * is bounded: a record longer than `maxRowChars` is reported (`row_too_long`, its text not kept) and the
 * reader resynchronises at the next line ending; a quote closed and then followed by text, or never
 * closed, is `broken_quoting` (the record is still returned, raw, to be reported). A line with no quote
 * at all is split by `String.split` (the common case, fast). Pure: no I/O.
 */
import type { Dialect } from './dialect.js';

/**
 * stray_line_break: the line ending the file does not use (a lone CR in an LF file, an LF in a CR file),
 * outside quotes. A spreadsheet or a dialer reads a new row there, whose number this reader would not
 * have sent: the record is refused whole rather than half checked.
 */
export type RowProblem = 'row_too_long' | 'broken_quoting' | 'stray_line_break';

export interface CsvRecord {
  /** The physical line (1-based) the record starts on. */
  readonly line: number;
  /** Physical lines it spans (more than 1 when a quoted field holds line breaks). */
  readonly lines: number;
  /** Its text without the line ending; null when it was too long to keep. */
  readonly raw: string | null;
  readonly fields: readonly string[];
  /** Its line ending as read ('' for a last line with none). */
  readonly eol: string;
  readonly problem: RowProblem | null;
}

export interface ReaderOptions {
  /** A record longer than this (characters) is a bad row, never buffered further. */
  readonly maxRowChars: number;
}

const QUOTE = 0x22;
const CR = 0x0d;

type Parsed = { readonly record: CsvRecord; readonly next: number } | 'incomplete';

export class CsvReader {
  readonly #sep: string;
  readonly #sepCode: number;
  /** The character that ends a line: LF (a CR before it belongs to the ending) or a lone CR. */
  readonly #eol: string;
  readonly #eolCode: number;
  /** The other line-ending character (CR in an LF file, LF in a CR file): a stray line break. */
  readonly #strayCode: number;
  readonly #stray: string;
  readonly #max: number;
  #buf = '';
  #pos = 0;
  #line = 1;
  /** Set while the rest of a too-long record is discarded: where it started and the lines seen so far. */
  #skip: { readonly line: number; lines: number } | null = null;

  constructor(dialect: Dialect, options: ReaderOptions) {
    this.#sep = dialect.separator;
    this.#sepCode = dialect.separator.charCodeAt(0);
    this.#eol = dialect.lineEnding === '\r' ? '\r' : '\n';
    this.#eolCode = this.#eol.charCodeAt(0);
    this.#stray = this.#eol === '\n' ? '\r' : '\n';
    this.#strayCode = this.#stray.charCodeAt(0);
    this.#max = options.maxRowChars;
  }

  /** Feeds text; returns the records it completed. */
  push(text: string): CsvRecord[] {
    this.#buf = this.#pos === 0 ? this.#buf + text : this.#buf.slice(this.#pos) + text;
    this.#pos = 0;
    return this.#drain(false);
  }

  /** The end of the text: returns the last records (a last line without a line ending included). */
  end(): CsvRecord[] {
    const out = this.#drain(true);
    this.#buf = '';
    this.#pos = 0;
    return out;
  }

  #drain(final: boolean): CsvRecord[] {
    const out: CsvRecord[] = [];
    const buf = this.#buf;
    for (;;) {
      if (this.#skip !== null) {
        const t = buf.indexOf(this.#eol, this.#pos);
        if (t === -1) {
          this.#pos = buf.length;
          if (!final) break;
          out.push(this.#tooLong(''));
          break;
        }
        this.#pos = t + 1;
        out.push(this.#tooLong(this.#eol === '\n' && t > 0 && buf.charCodeAt(t - 1) === CR ? '\r\n' : this.#eol));
        continue;
      }
      const start = this.#pos;
      if (start >= buf.length) break;
      const t = buf.indexOf(this.#eol, start);
      if (t === -1 && !final) {
        // No complete line yet: wait for more, unless what is held is already over the cap.
        if (buf.length - start > this.#max) this.#startSkip(buf, start, buf.length);
        break;
      }
      const lineEnd = t === -1 ? buf.length : t;
      const hasCr = this.#eol === '\n' && lineEnd > start && buf.charCodeAt(lineEnd - 1) === CR;
      const end = hasCr ? lineEnd - 1 : lineEnd;
      const quote = buf.indexOf('"', start);
      if (quote === -1 || quote >= end) {
        const eol = t === -1 ? '' : hasCr ? '\r\n' : this.#eol;
        this.#pos = t === -1 ? buf.length : t + 1;
        if (end - start > this.#max) {
          out.push({ line: this.#line, lines: 1, raw: null, fields: [], eol, problem: 'row_too_long' });
        } else {
          const raw = buf.slice(start, end);
          out.push({ line: this.#line, lines: 1, raw, fields: raw.split(this.#sep), eol, problem: raw.includes(this.#stray) ? 'stray_line_break' : null });
        }
        this.#line++;
        continue;
      }
      const parsed = this.#parseQuoted(buf, start, final);
      if (parsed === 'incomplete') {
        if (buf.length - start > this.#max) this.#startSkip(buf, start, buf.length);
        break;
      }
      if (parsed.record.raw !== null && parsed.record.raw.length > this.#max) {
        out.push({ ...parsed.record, raw: null, fields: [], problem: 'row_too_long' });
      } else out.push(parsed.record);
      this.#pos = parsed.next;
      this.#line += parsed.record.lines;
    }
    return out;
  }

  /** Starts discarding a record over the cap: the line endings in what is dropped still count as lines. */
  #startSkip(buf: string, from: number, to: number): void {
    let lines = 1;
    for (let i = buf.indexOf(this.#eol, from); i !== -1 && i < to; i = buf.indexOf(this.#eol, i + 1)) lines++;
    this.#skip = { line: this.#line, lines };
    this.#pos = to;
  }

  #tooLong(eol: string): CsvRecord {
    const skip = this.#skip as { line: number; lines: number };
    this.#skip = null;
    this.#line = skip.line + skip.lines;
    return { line: skip.line, lines: skip.lines, raw: null, fields: [], eol, problem: 'row_too_long' };
  }

  /** One record with quotes, char by char from `start`; 'incomplete' when the buffer ends inside it. */
  #parseQuoted(buf: string, start: number, final: boolean): Parsed {
    const fields: string[] = [];
    let problem: RowProblem | null = null;
    let lines = 1;
    let i = start;
    for (;;) {
      let field = '';
      const quoted = buf.charCodeAt(i) === QUOTE;
      if (quoted) {
        // A quoted field: up to the closing quote; "" is one quote.
        let seg = i + 1;
        for (;;) {
          const q = buf.indexOf('"', seg);
          if (q === -1) {
            if (!final) return 'incomplete';
            // Never closed: the rest of the text is this field, and the record is broken.
            field += buf.slice(seg);
            lines += this.#countEol(buf, seg, buf.length);
            fields.push(field);
            return { record: { line: this.#line, lines, raw: buf.slice(start), fields, eol: '', problem: 'broken_quoting' }, next: buf.length };
          }
          if (q + 1 >= buf.length && !final) return 'incomplete';
          lines += this.#countEol(buf, seg, q);
          field += buf.slice(seg, q);
          if (buf.charCodeAt(q + 1) === QUOTE) {
            field += '"';
            seg = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
      }
      // Unquoted text (or text after a closing quote, which is broken quoting but kept).
      const textStart = i;
      let stray = false;
      while (i < buf.length) {
        const c = buf.charCodeAt(i);
        if (c === this.#sepCode || c === this.#eolCode) break;
        if (c === this.#strayCode) stray = true;
        i++;
      }
      if (i >= buf.length && !final) return 'incomplete';
      let textEnd = i;
      let eol = '';
      if (i < buf.length && buf.charCodeAt(i) === this.#eolCode) {
        eol = this.#eol;
        if (this.#eol === '\n' && textEnd > textStart && buf.charCodeAt(textEnd - 1) === CR) {
          textEnd--;
          eol = '\r\n';
        }
      }
      // A CR counted as stray just before the LF that ends the line is the CRLF ending itself.
      if (stray && buf.indexOf(this.#stray, textStart) < textEnd && problem === null) problem = 'stray_line_break';
      if (textEnd > textStart) {
        // `"ab"cd`: text after a closing quote. Kept, but the row is reported: the file is malformed here.
        if (quoted) problem = 'broken_quoting';
        field += buf.slice(textStart, textEnd);
      }
      fields.push(field);
      if (i < buf.length && buf.charCodeAt(i) === this.#sepCode) {
        i++;
        if (i >= buf.length && !final) return 'incomplete';
        if (i >= buf.length) {
          fields.push('');
          return { record: { line: this.#line, lines, raw: buf.slice(start), fields, eol: '', problem }, next: i };
        }
        continue;
      }
      // A line ending or the end of the text ends the record.
      const raw = buf.slice(start, textEnd);
      return { record: { line: this.#line, lines, raw, fields, eol, problem }, next: i < buf.length ? i + 1 : i };
    }
  }

  #countEol(buf: string, from: number, to: number): number {
    let n = 0;
    for (let i = buf.indexOf(this.#eol, from); i !== -1 && i < to; i = buf.indexOf(this.#eol, i + 1)) n++;
    return n;
  }

  /** The separator this reader splits on. */
  get separator(): string {
    return this.#sep;
  }
}

