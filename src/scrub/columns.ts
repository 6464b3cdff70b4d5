/**
 * Which column of a lead file holds the phone number, and whether its first row is a header: by the
 * operator's `--column` (a 1-based index or a header name), else by the header's names (phone,
 * téléphone, tel, mobile, portable, numéro, gsm…). Pure: no I/O.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';

export interface ColumnChoice {
  /** 0-based index of the phone column. */
  readonly index: number;
  /** The first record is a header (written back with the appended column names, never checked). */
  readonly header: boolean;
}

/** A header cell as compared: lower case, accents removed, only letters and digits. */
export function headerKey(cell: string): string {
  return cell
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

/** Whole header names of a phone column (after headerKey), in order of preference. */
const PHONE_NAMES: readonly string[] = ['phone', 'phonenumber', 'telephone', 'tel', 'mobile', 'portable', 'numero', 'numerotelephone', 'numtel', 'notel', 'msisdn', 'gsm', 'cell', 'cellphone', 'mobilephone', 'number', 'num'];
/** Parts of a header name that say phone (`tel_mobile`, `telephone1`, `phone_home`). */
const PHONE_PARTS: readonly string[] = ['phone', 'telephone', 'mobile', 'portable', 'msisdn', 'gsm', 'tel'];

/** Digits that make a cell look like a phone number rather than a header name. */
const PHONE_DIGITS = 6;

function digitCount(cell: string): number {
  let n = 0;
  for (let i = 0; i < cell.length; i++) {
    const c = cell.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) n++;
  }
  return n;
}

/** Whether a header name says phone: a whole phone name, or a phone part at its start or end. */
function isPhoneName(key: string): boolean {
  return PHONE_NAMES.includes(key) || PHONE_PARTS.some((part) => key.startsWith(part) || key.endsWith(part));
}

/**
 * The indexes of the header's phone columns. More than one (`telephone;mobile`, `phone;phone`) is the
 * operator's choice: checking one would ship the other's listed numbers as callable.
 */
export function phoneColumnsOf(header: readonly string[]): number[] {
  const out: number[] = [];
  header.forEach((cell, i) => {
    if (isPhoneName(headerKey(cell))) out.push(i);
  });
  return out;
}

/**
 * Decides the column and the header from the first record. `column`: the operator's `--column` (null:
 * detect). The first row is a header unless it looks like data (a cell, or the chosen cell, with at
 * least six digits).
 */
export function chooseColumn(first: readonly string[], column: string | null): ColumnChoice {
  if (column !== null && /^[0-9]+$/.test(column)) {
    const n = Number(column);
    if (!Number.isSafeInteger(n) || n < 1) throw new CallgateError(ErrorCode.CONFIG, `--column: expected a column number from 1 or a header name, got ${JSON.stringify(column)}`);
    const cell = first[n - 1];
    if (cell === undefined) throw new CallgateError(ErrorCode.SCRUB_INPUT, `--column ${n}: the first row has only ${first.length} columns`);
    return { index: n - 1, header: digitCount(cell) < PHONE_DIGITS };
  }
  if (column !== null) {
    const key = headerKey(column);
    const index = first.findIndex((cell) => headerKey(cell) === key);
    if (key === '' || index === -1) throw new CallgateError(ErrorCode.SCRUB_INPUT, `--column ${JSON.stringify(column)}: no such column in the header (${first.map((c) => JSON.stringify(c)).join(', ')})`);
    if (first.findIndex((cell, i) => i > index && headerKey(cell) === key) !== -1) throw new CallgateError(ErrorCode.SCRUB_INPUT, `--column ${JSON.stringify(column)}: several columns have that name; say which with --column N`);
    return { index, header: true };
  }
  const dataLike = first.findIndex((cell) => digitCount(cell) >= PHONE_DIGITS);
  if (dataLike !== -1) {
    // No header: the first cell that looks like a number, provided it is the only one (a second, e.g. a
    // customer id or a second phone, makes the choice the operator's).
    const others = first.filter((cell) => digitCount(cell) >= PHONE_DIGITS).length;
    if (others > 1) throw new CallgateError(ErrorCode.SCRUB_INPUT, `the file has no header and ${others} columns that look like numbers; say which with --column N`);
    return { index: dataLike, header: false };
  }
  const phones = phoneColumnsOf(first);
  const index = phones[0];
  if (index === undefined) throw new CallgateError(ErrorCode.SCRUB_INPUT, `no phone column found in the header (${first.map((c) => JSON.stringify(c)).join(', ')}); say which with --column N or --column NAME`);
  if (phones.length > 1) throw new CallgateError(ErrorCode.SCRUB_INPUT, `the header has ${phones.length} phone columns (${phones.map((i) => JSON.stringify(first[i])).join(', ')}); a scrub checks one: say which with --column N, and scrub the others in turn`);
  return { index, header: true };
}
