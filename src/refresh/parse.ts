/**
 * List text → number keys: the rules for one line, line framing, and the per-file tally.
 * Pure (no I/O): list-read feeds it decoded text; tests feed it strings.
 *
 * A line is one of: blank, comment (`#…`), header (the first content line when its first field has no
 * digit), a candidate number (the first CSV field), or bad. A bad line is counted, never fatal: the
 * caller decides what a list with bad lines means.
 */
import { encodeTerms, parseTerms } from '../rules/consent-terms.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { otherReading } from '../numbers/normalise.js';
import { e164ToKey, type NumberKey } from '../numbers/number-key.js';
import { TermsBuilder, type TermsTable } from '../lists/terms-table.js';

/** Same contract as `normalise` in numbers/normalise.ts: E.164 (`+digits`) or null when invalid. */
export type Normaliser = (raw: string) => string | null;

export type LineResult =
  | { readonly kind: 'number'; readonly raw: string }
  | { readonly kind: 'blank' }
  | { readonly kind: 'comment' }
  | { readonly kind: 'header' }
  | { readonly kind: 'bad' };

/** Only the first content line may be a header, so a stray word later in the file is bad, not skipped. */
export interface ParseState {
  contentSeen: boolean;
}

export function createParseState(): ParseState {
  return { contentSeen: false };
}

/** Bad line numbers kept for the load report; the count is always exact. */
export const MAX_BAD_LINE_NUMBERS = 20;

// Shared results: the non-number kinds carry no data, so the hot loop allocates nothing for them.
const BLANK: LineResult = Object.freeze({ kind: 'blank' });
const COMMENT: LineResult = Object.freeze({ kind: 'comment' });
const HEADER: LineResult = Object.freeze({ kind: 'header' });
const BAD: LineResult = Object.freeze({ kind: 'bad' });

const BOM = 0xfeff;
const QUOTE = 0x22; // "
const APOSTROPHE = 0x27; // ' (spreadsheets' "keep as text" marker, e.g. '0612345678)
const HASH = 0x23;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const TAB = 0x09;

function isSpace(c: number): boolean {
  // ASCII whitespace, NBSP, and a BOM (a stray one from concatenated files is noise, not a number).
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === BOM;
}

function isSeparator(c: number): boolean {
  // Tab too: a number never contains one, and TSV exports are common.
  return c === COMMA || c === SEMICOLON || c === TAB;
}

function hasDigit(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) return true;
  }
  return false;
}

/** True when the line holds only separators, quotes and whitespace (an empty spreadsheet row). */
function isEmptyRow(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (!isSpace(c) && !isSeparator(c) && c !== QUOTE && c !== APOSTROPHE) return false;
  }
  return true;
}

/**
 * The first field of a CSV line (`,` `;` or tab separated), quotes and surrounding whitespace removed.
 * A quoted field may contain separators. Exported for tests.
 */
export function firstField(line: string): string {
  const n = line.length;
  let i = 0;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  let start = i;
  let end: number;
  if (i < n && line.charCodeAt(i) === QUOTE && line.indexOf('"', i + 1) !== -1) {
    start = i + 1;
    end = line.indexOf('"', start);
  } else {
    end = i;
    while (end < n && !isSeparator(line.charCodeAt(end))) end++;
  }
  while (start < end && (isSpace(line.charCodeAt(start)) || line.charCodeAt(start) === APOSTROPHE)) start++;
  while (end > start && (isSpace(line.charCodeAt(end - 1)) || line.charCodeAt(end - 1) === APOSTROPHE)) end--;
  return line.slice(start, end);
}

/**
 * Every field of a CSV line, each as firstField reads it (a quoted field may hold separators; `""`
 * inside quotes is one quote). Only consent lists read past the first field. Exported for tests.
 */
export function splitFields(line: string): string[] {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    while (i < n && isSpace(line.charCodeAt(i)) && line.charCodeAt(i) !== TAB) i++;
    let field: string;
    if (i < n && line.charCodeAt(i) === QUOTE) {
      let j = i + 1;
      let value = '';
      for (;;) {
        const q = line.indexOf('"', j);
        if (q === -1) {
          value += line.slice(j);
          j = n;
          break;
        }
        value += line.slice(j, q);
        if (line.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      while (j < n && !isSeparator(line.charCodeAt(j))) j++;
      field = value;
      i = j;
    } else {
      let j = i;
      while (j < n && !isSeparator(line.charCodeAt(j))) j++;
      field = line.slice(i, j);
      i = j;
    }
    const trimmed = field.trim();
    // The regex only when a spreadsheet's text marker is there: this runs for every field of a consent list.
    out.push(trimmed.length > 0 && (trimmed.charCodeAt(0) === APOSTROPHE || trimmed.charCodeAt(trimmed.length - 1) === APOSTROPHE) ? trimmed.replace(/^'+|'+$/g, '') : trimmed);
    if (i >= n) return out;
    i++; // the separator
  }
}

/**
 * Classifies one line (without its line terminator; a trailing CR is tolerated). `lineNo` is 1-based;
 * a BOM is stripped on line 1 only. Updates `state` once the first content line is seen.
 * A `number` result is a candidate: the caller normalises `raw`, and a failure makes the line bad.
 */
export function classifyLine(line: string, lineNo: number, state: ParseState): LineResult {
  let i = 0;
  const n = line.length;
  if (lineNo === 1 && n > 0 && line.charCodeAt(0) === BOM) i = 1;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  if (i === n) return BLANK;
  if (line.charCodeAt(i) === HASH) return COMMENT;
  const raw = firstField(line);
  const first = !state.contentSeen;
  if (raw.length === 0 && isEmptyRow(line)) return BLANK;
  state.contentSeen = true;
  if (!hasDigit(raw)) return first ? HEADER : BAD;
  return { kind: 'number', raw };
}

export interface ListCounts {
  /** Every line: numbers + blank + comments + header + badLines. */
  readonly lines: number;
  readonly numbers: number;
  readonly blank: number;
  readonly comments: number;
  readonly header: boolean;
  readonly badLines: number;
  /** 1-based, ascending, at most MAX_BAD_LINE_NUMBERS. */
  readonly badLineNumbers: readonly number[];
}

export interface ListParseResult extends ListCounts {
  /**
   * Every reading of every number line, in file order, duplicates kept: the exact-set builder sorts
   * and dedups. One key per line, except a deny-list line with two readings (numbers/normalise.ts rule 9): two.
   */
  readonly keys: Float64Array;
  /** Consent lists: the stored terms (rules/consent-terms.ts) of each number that has some; null for other lists. */
  readonly terms: TermsTable | null;
}

export interface AccumulatorOptions {
  /** Read consent terms from the columns after the number (consent lists). @default false */
  readonly terms?: boolean | undefined;
  /**
   * The list's kind, which decides what a line with two readings (numbers/normalise.ts rule 9, e.g.
   * '687751234': +33687751234 or New Caledonia's +687751234) means. deny: both are listed (a wrong
   * block costs one call). allow: the line grants nothing and is a bad line (a consent or a contract
   * must never reach a number it may not mean). @default 'deny', and 'allow' whenever `terms` is set
   */
  readonly kind?: 'deny' | 'allow' | undefined;
}

/**
 * Consumes lines in order and tallies them. Keys go into a doubling Float64Array, not a JS array:
 * 15 million keys stay at 8 bytes each (a JS array of doubles would box or reallocate unpredictably).
 */
export class ListAccumulator {
  readonly #normalise: Normaliser;
  readonly #state: ParseState = createParseState();
  #keys: Float64Array;
  #numbers = 0;
  #lines = 0;
  #blank = 0;
  #comments = 0;
  #header = false;
  #badLines = 0;
  readonly #badLineNumbers: number[] = [];
  readonly #terms: TermsBuilder | null;
  /** Keys written (numbers plus the second readings of deny-list lines). */
  #keyCount = 0;
  readonly #allowList: boolean;

  constructor(normalise: Normaliser, initialCapacity = 1 << 16, options: AccumulatorOptions = {}) {
    this.#normalise = normalise;
    this.#keys = new Float64Array(Math.max(16, initialCapacity));
    this.#terms = options.terms === true ? new TermsBuilder(Math.min(initialCapacity, 1 << 16)) : null;
    this.#allowList = options.kind === 'allow' || options.terms === true;
  }

  /** Adds the next line (terminator already removed). */
  addLine(line: string): void {
    const lineNo = ++this.#lines;
    const r = classifyLine(line, lineNo, this.#state);
    switch (r.kind) {
      case 'number': {
        const e164 = this.#normalise(r.raw);
        if (e164 === null) {
          this.#bad(lineNo);
          return;
        }
        // Rule 9: null at once for all but 9 bare digits.
        const other = otherReading(r.raw);
        if (other !== null && this.#allowList) {
          this.#bad(lineNo);
          return;
        }
        const key = e164ToKey(e164);
        if (this.#terms !== null && !this.#readTerms(line, key)) {
          this.#bad(lineNo);
          return;
        }
        this.#numbers++;
        this.#push(key);
        if (other !== null) this.#push(e164ToKey(other));
        return;
      }
      case 'blank':
        this.#blank++;
        return;
      case 'comment':
        this.#comments++;
        return;
      case 'header':
        this.#header = true;
        return;
      case 'bad':
        this.#bad(lineNo);
        return;
      default: {
        const never: never = r;
        throw new Error(`unreachable line kind ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * A consent line's terms; false when they are bad (the number is then not taken: an unreadable expiry
   * must not become a consent without one). A number listed twice keeps the terms of its latest
   * consent (the later line on a tie).
   */
  #readTerms(line: string, key: NumberKey): boolean {
    const terms = parseTerms(splitFields(line).slice(1));
    if (terms === 'bad') return false;
    if (terms !== null) this.#terms?.add(key, terms.consentedAt, encodeTerms(terms));
    return true;
  }

  #bad(lineNo: number): void {
    this.#badLines++;
    if (this.#badLineNumbers.length < MAX_BAD_LINE_NUMBERS) this.#badLineNumbers.push(lineNo);
  }

  #push(key: NumberKey): void {
    if (this.#keyCount === this.#keys.length) this.#grow();
    this.#keys[this.#keyCount++] = key;
  }

  #grow(): void {
    const next = new Float64Array(this.#keys.length * 2);
    next.set(this.#keys);
    this.#keys = next;
  }

  /** The tally so far; `keys` is a copy trimmed to the keys written (or the buffer itself when exactly full). */
  result(): ListParseResult {
    const keys = this.#keyCount === this.#keys.length ? this.#keys : this.#keys.slice(0, this.#keyCount);
    return {
      lines: this.#lines,
      numbers: this.#numbers,
      blank: this.#blank,
      comments: this.#comments,
      header: this.#header,
      badLines: this.#badLines,
      badLineNumbers: [...this.#badLineNumbers],
      keys,
      terms: this.#terms === null ? null : this.#terms.build(),
    };
  }
}

/**
 * Splits decoded text chunks into lines (LF or CRLF), whatever the chunk boundaries: a line or a CRLF
 * cut between two chunks is joined first. Faster than node:readline, which allocates per line and
 * goes through events. A last line without LF is emitted by `end()`, which says so: a list reader
 * refuses it, since a file cut while being written ends that way (issue 11).
 *
 * A line longer than `maxLineChars` throws as soon as it is seen, so a 1 GB line is never held whole.
 */
export class LineSplitter {
  readonly #onLine: (line: string) => void;
  readonly #maxLineChars: number;
  #carry = '';

  constructor(onLine: (line: string) => void, options: { readonly maxLineChars?: number } = {}) {
    this.#onLine = onLine;
    this.#maxLineChars = options.maxLineChars ?? Number.POSITIVE_INFINITY;
  }

  push(text: string): void {
    let start = 0;
    let lf = text.indexOf('\n');
    if (lf === -1) {
      // No terminator in this chunk (tiny chunks, or a very long line): keep it all for the next one.
      this.#carry += text;
      this.#checkLength(this.#carry.length);
      return;
    }
    if (this.#carry.length > 0) {
      this.#emit(this.#carry + text.slice(0, lf));
      this.#carry = '';
      start = lf + 1;
      lf = text.indexOf('\n', start);
    }
    while (lf !== -1) {
      this.#emit(text.slice(start, lf));
      start = lf + 1;
      lf = text.indexOf('\n', start);
    }
    if (start < text.length) {
      this.#carry = text.slice(start);
      this.#checkLength(this.#carry.length);
    }
  }

  /** Emits a last line without LF, if any; true when there was one (the text did not end with LF). */
  end(): boolean {
    const unterminated = this.#carry.length > 0;
    if (unterminated) this.#emit(this.#carry);
    this.#carry = '';
    return unterminated;
  }

  #emit(line: string): void {
    const n = line.length;
    this.#checkLength(n);
    this.#onLine(n > 0 && line.charCodeAt(n - 1) === 0x0d ? line.slice(0, n - 1) : line);
  }

  #checkLength(n: number): void {
    if (n > this.#maxLineChars) {
      throw new CallgateError(ErrorCode.LIST_LINE_TOO_LONG, `a list line is longer than ${this.#maxLineChars} characters (the line-length cap)`);
    }
  }
}
