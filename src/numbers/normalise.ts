/**
 * Phone number → E.164, or null. One wrong normalisation is one wrong allow (a listed line that
 * no longer matches), so the rules are strict and pinned here and in test/unit/normalise.test.ts:
 *
 * 1. Accepted characters: ASCII digits, whitespace (space, tab, CR/LF, NBSP U+00A0, figure space
 *    U+2007, thin space U+2009, narrow NBSP U+202F), '+', '.', '-', '/', '(', ')'. Anything else
 *    (letters, 'ext', '#', '*', ',', ';') → null: libphonenumber accepts vanity letters and
 *    extensions, we must not. More than 40 characters → null. '+' only once, before any digit,
 *    after nothing but whitespace or '('.
 * 2. '(0)' right after an international country code is a trunk-zero marker and is dropped:
 *    '+33 (0)6 12 34 56 78' → +33612345678. In an international number, '(0)' anywhere else, or a
 *    second one → null (ambiguous). In a national number the parentheses are separators, the 0 stays.
 * 3. International forms '+CC…' and '00CC…' are parsed as '+CC…' with libphonenumber-js `max`
 *    metadata and must pass isValid(); any country.
 * 4. French national: 10 digits starting with 0. The overseas national prefixes map to their own
 *    country codes before parsing (DOMAIN.md): 0590 0690 0691 → +590; 0594 0694 → +594;
 *    0596 0696 0697 → +596; 0262 0263 0692 0693 (Réunion) and 0269 0639 (Mayotte) → +262;
 *    any other 0… → +33. '0692 12 34 56' → +262692123456.
 * 5. 9 digits not starting with 0 (a spreadsheet dropped the 0): '0' + those digits (rule 4).
 * 6. Country code without '+': 11 digits starting 33, 12 digits starting 262/590/594/596 → '+…'.
 * 7. Never a wrong allow: +33 (or 0033, 33) followed by 9 digits starting with an overseas prefix
 *    (590 594 596 262 263 269 639 690 691 692 693 694 696 697) is the line dialled nationally as
 *    '0' + those 9 digits, so it maps to the overseas code, although libphonenumber calls
 *    +33596757617 valid. A trunk 0 written after a French country code (+33, +262, +590, +594,
 *    +596, with '+', '00' or bare) is dropped: '+33 0612345678', '262 0692123456'.
 * 8. Everything else → null: foreign numbers are accepted only written internationally.
 * 9. Readings (DOMAIN.md: "an input with two plausible readings must be checked under both"). The
 *    readings of an input are: none when rules 1–8 give null; else the rules' answer (its primary
 *    reading), plus, when the input is written without '+' or '00' and its digits do not start with
 *    0, the same digits read with a '+' in front (rules 3 and 7) if that is a valid number and
 *    differs. Only 9 digits can give a second reading (a bare 10-digit input starts with 0; bare
 *    11–13 digits are accepted only as a French code, which reads the same with '+'): '508 41 12 34'
 *    is +33508411234 (rule 5) and +508411234 (Saint-Pierre-et-Miquelon); '687 75 12 34' is also New
 *    Caledonia, '681 72 12 34' Wallis-et-Futuna. A check allows such an input only if every reading
 *    allows; a deny-list line lists every reading; an allow-list line with two readings grants
 *    nothing (refresh/parse.ts). `normalise` gives the primary reading, `otherReading` the second one
 *    (a cheap test that returns null at once for anything but 9 bare digits), `readingsFull` is the
 *    reference that test/unit/normalise-readings.test.ts checks both against, over every calling code.
 *
 * Every accepted French shape is first rewritten to one canonical '+CC' + 9 digits and only that
 * string is parsed, so all written forms of a line give the same answer by construction.
 *
 * `normalise` has a fast path for the common French shapes (digits, spaces, '.', '-', '/', an
 * optional leading '+') that validates with the library's own metadata patterns, compiled once
 * (numbers/phone-metadata.ts); anything else falls back to `normaliseFull`. A property test
 * (test/unit/normalise-fast.test.ts, ~200k inputs) checks that the two agree.
 */
import { compileGuardedValidator, compileNationalValidator, isCallingCode, LIBPHONENUMBER_VERSION, parseInternationalValid } from './phone-metadata.js';

/** Bump the 'n' revision whenever a rule above changes; lists normalised by another version are rebuilt. */
// n2: rule 9 (a deny-list line written as 9 bare digits also lists its '+' reading; such an
// allow-list line grants nothing).
export const NORMALISER_VERSION = `n2/lpn-${LIBPHONENUMBER_VERSION}`;

const MAX_RAW_LENGTH = 40;

const FRENCH_CALLING_CODES = ['33', '262', '590', '594', '596'] as const;

/** Overseas national prefixes (the 3 digits after the 0) → country calling code (DOMAIN.md table). */
const OVERSEAS_PREFIXES: Readonly<Record<string, string>> = {
  '590': '590', '690': '590', '691': '590',
  '594': '594', '694': '594',
  '596': '596', '696': '596', '697': '596',
  '262': '262', '263': '262', '692': '262', '693': '262',
  '269': '262', '639': '262',
};

// --------------------------------------------------------------------------------------------
// Reference path
// --------------------------------------------------------------------------------------------

/** The reference path: the rules above, then libphonenumber parse + isValid. */
export function normaliseFull(raw: string): string | null {
  const shape = readShape(raw);
  if (shape === null) return null;
  const candidate = shape.international ? resolveInternational(shape.digits) : resolveNational(shape.digits);
  return candidate === null ? null : parseInternationalValid(candidate);
}

interface Shape {
  /** Written with '+' or '00' (the '00' is already removed from digits). */
  readonly international: boolean;
  readonly digits: string;
}

function isWhitespace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\u00a0' || c === '\u2007' || c === '\u2009' || c === '\u202f';
}

/** Rules 1 and 2: checks the characters, collects the digits, drops a '(0)' after a country code. */
function readShape(raw: string): Shape | null {
  if (raw.length > MAX_RAW_LENGTH) return null;
  let digits = '';
  let plus = false;
  let onlyOpeners = true; // nothing but whitespace and '(' so far: where a '+' may stand
  let trunkMarker = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charAt(i);
    if (c >= '0' && c <= '9') {
      digits += c;
      onlyOpeners = false;
    } else if (c === '+') {
      if (!onlyOpeners || plus) return null;
      plus = true;
    } else if (c === '(' && raw.startsWith('(0)', i)) {
      const callingCode = plus ? digits : digits.startsWith('00') ? digits.slice(2) : null;
      if (callingCode === null) {
        digits += '0'; // national: parentheses are separators
        onlyOpeners = false;
      } else if (!trunkMarker && isCallingCode(callingCode)) {
        trunkMarker = true; // dropped
      } else {
        return null;
      }
      i += 2;
    } else if (c === '(') {
      // A separator; keeps onlyOpeners as it is, so '(+33)' is accepted.
    } else if (c === ')' || c === '.' || c === '-' || c === '/') {
      onlyOpeners = false;
    } else if (isWhitespace(c)) {
      // Separator.
    } else {
      return null;
    }
  }
  if (digits === '') return null;
  if (plus) return { international: true, digits };
  if (digits.startsWith('00')) return { international: true, digits: digits.slice(2) };
  return { international: false, digits };
}

/** Rule 3, with rule 7 for the French country codes. */
function resolveInternational(digits: string): string | null {
  if (digits.startsWith('0')) return null; // no country code starts with 0 ('+0…', '000…')
  for (const cc of FRENCH_CALLING_CODES) {
    if (digits.startsWith(cc)) return resolveFrenchCallingCode(cc, digits.slice(cc.length));
  }
  return `+${digits}`;
}

/** Rules 4–6: French numbers written without '+' or '00'. */
function resolveNational(digits: string): string | null {
  const n = digits.length;
  if (n === 10 && digits.charAt(0) === '0') return resolveFrenchNsn(digits.slice(1));
  if (n === 9 && digits.charAt(0) !== '0') return resolveFrenchNsn(digits);
  if (n >= 11 && n <= 13) {
    for (const cc of FRENCH_CALLING_CODES) {
      // Only the lengths a bare French code allows: cc + 9 digits, or cc + trunk 0 + 9 digits.
      if (digits.startsWith(cc) && (n === cc.length + 9 || (n === cc.length + 10 && digits.charAt(cc.length) === '0'))) {
        return resolveFrenchCallingCode(cc, digits.slice(cc.length));
      }
    }
  }
  return null;
}

/** Rule 7: drops a trunk 0 after a French country code; +33 overseas prefixes map to their code. */
function resolveFrenchCallingCode(cc: string, rest: string): string {
  const nsn = rest.length === 10 && rest.charAt(0) === '0' ? rest.slice(1) : rest;
  return cc === '33' && nsn.length === 9 ? resolveFrenchNsn(nsn) : `+${cc}${nsn}`;
}

/** A French 9-digit national significant number → '+CC' + nsn, the overseas ones to their code. */
function resolveFrenchNsn(nsn: string): string {
  return `+${OVERSEAS_PREFIXES[nsn.slice(0, 3)] ?? '33'}${nsn}`;
}

// --------------------------------------------------------------------------------------------
// Fast path
// --------------------------------------------------------------------------------------------

/** Validators for '+CC' + 9 digits, compiled once; a calling code missing here goes to the full path. */
const nineDigitValidators = new Map<number, (nsn: string) => boolean>();
for (const cc of FRENCH_CALLING_CODES) {
  const validate = compileNationalValidator(cc);
  if (validate !== null) nineDigitValidators.set(Number(cc), validate);
}

/** Calling codes the fast path validates itself (the test asserts all five French ones are here). */
export const FAST_PATH_CALLING_CODES: readonly string[] = [...nineDigitValidators.keys()].map(String);

/** First 3 digits of a 9-digit nsn → overseas calling code, 0 when metropolitan. */
const OVERSEAS_BY_PREFIX = new Uint16Array(1000);
for (const [prefix, cc] of Object.entries(OVERSEAS_PREFIXES)) OVERSEAS_BY_PREFIX[Number(prefix)] = Number(cc);

const NSN_MIN = 100_000_000; // 9 digits, first one non-zero
const NSN_SPAN = 1_000_000_000;

/** Normalises a number as a dialer or a list file writes it: E.164, or null when invalid. */
export function normalise(raw: string): string | null {
  const n = raw.length;
  if (n === 0 || n > MAX_RAW_LENGTH) return null;
  let value = 0; // the digits as an integer (exact: at most 15 digits are kept below)
  let count = 0; // digits seen
  let zeros = 0; // leading zeros (they vanish from value)
  let plus = false;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      if (value === 0 && d === 0) zeros++;
      value = value * 10 + d;
      count++;
    } else if (c === 43 /* + */) {
      if (i !== 0) return normaliseFull(raw);
      plus = true;
    } else if (c !== 32 && c !== 45 /* - */ && c !== 46 /* . */ && c !== 47 /* / */ && c !== 0xa0) {
      return normaliseFull(raw); // '(', tabs, other spaces, letters: rare, the full path decides
    }
  }
  if (count > 15 || count - zeros < 9) return normaliseFull(raw);
  if (plus ? zeros === 0 : zeros === 2) {
    const foreign = foreignInternational(raw, value);
    if (foreign !== undefined) return foreign;
  }
  const nsn = value % NSN_SPAN;
  if (nsn < NSN_MIN) return normaliseFull(raw);
  const head = (value - nsn) / NSN_SPAN; // digits before the nsn, leading zeros gone
  const headDigits = count - zeros - 9;
  let cc: number;
  if (plus ? zeros === 0 : zeros === 2 || (zeros === 0 && headDigits >= 2)) {
    // '+CC', '00CC' or bare 'CC' (rule 6), each with an optional trunk 0 (rule 7).
    if (headDigits === 2 && head === 33) cc = 33;
    else if (headDigits === 3 && head === 330) cc = 33;
    else if (headDigits === 3 && nineDigitValidators.has(head)) cc = head;
    else if (headDigits === 4 && head % 10 === 0 && nineDigitValidators.has(head / 10)) cc = head / 10;
    else return normaliseFull(raw);
  } else if (!plus && ((zeros === 1 && count === 10) || (zeros === 0 && count === 9))) {
    cc = 33; // rules 4 and 5
  } else {
    return normaliseFull(raw);
  }
  if (cc === 33) cc = OVERSEAS_BY_PREFIX[(nsn - (nsn % 1_000_000)) / 1_000_000] || 33;
  const validate = nineDigitValidators.get(cc);
  if (validate === undefined) return normaliseFull(raw);
  const nsnText = String(nsn);
  return validate(nsnText) ? `+${cc}${nsnText}` : null;
}

/** Compiled validity per calling code and national number length, made on first use (a few hundred at most). */
const foreignValidators = new Map<string, ((nsn: string) => boolean | null) | null>();

/**
 * '+' or '00' and a calling code other than France's (rule 3: kept as written when valid): the compiled validity
 * of the code's plans (phone-metadata.ts compileGuardedValidator) instead of the reference parse (~50-200 µs, the
 * most expensive part of a check of a foreign number, issue 17), which still decides whatever the validator cannot
 * tell. `value`: the digits after '+' or '00' (at most 15, none leading 0). undefined: a French code, left to the
 * fast path's own rules (4-7).
 */
function foreignInternational(raw: string, value: number): string | null | undefined {
  const digits = String(value);
  // Calling codes are prefix-free (ITU-T E.164): at most one of the first 1–3 digits is one.
  for (let k = 1; k <= 3; k++) {
    const cc = digits.slice(0, k);
    if (!isCallingCode(cc)) continue;
    if ((FRENCH_CALLING_CODES as readonly string[]).includes(cc)) return undefined;
    const nsn = digits.slice(k);
    if (nsn.charCodeAt(0) === 48) return normaliseFull(raw);
    const id = `${cc}:${nsn.length}`;
    let validate = foreignValidators.get(id);
    if (validate === undefined) {
      validate = compileGuardedValidator(cc, nsn.length);
      foreignValidators.set(id, validate);
    }
    const valid = validate === null ? null : validate(nsn);
    if (valid === null) return normaliseFull(raw);
    return valid ? `+${digits}` : null;
  }
  return normaliseFull(raw);
}

// --------------------------------------------------------------------------------------------
// Readings (rule 9)
// --------------------------------------------------------------------------------------------

/** The digits of 9 bare digits after each calling code they can start with: validator, compiled on first use. */
const bareValidators = new Map<string, ((nsn: string) => boolean | null) | null>();

function bareValidator(cc: string): ((nsn: string) => boolean | null) | null {
  let v = bareValidators.get(cc);
  if (v === undefined) {
    v = compileGuardedValidator(cc, 9 - cc.length);
    bareValidators.set(cc, v);
  }
  return v;
}

/** 9 digits, first one non-zero, read as '+digits': E.164 when valid (rules 3 and 7 leave it as is). */
function readWithPlus(digits: string): string | null {
  // Calling codes are prefix-free (ITU-T E.164): at most one of the first 1–3 digits is one.
  for (let k = 1; k <= 3; k++) {
    const cc = digits.slice(0, k);
    if (!isCallingCode(cc)) continue;
    const nsn = digits.slice(k);
    const validate = nsn.charCodeAt(0) === 48 ? null : bareValidator(cc);
    const valid = validate === null ? null : validate(nsn);
    // null: the validator cannot tell (a national prefix the library may strip): the reference parse decides.
    if (valid === null) return parseInternationalValid(`+${digits}`);
    return valid ? `+${digits}` : null;
  }
  return null;
}

/**
 * The second reading of an input that `normalise` accepts (rule 9), or null when it has only one.
 * Costs one pass over the characters for anything but 9 bare digits.
 */
export function otherReading(raw: string): string | null {
  const n = raw.length;
  if (n < 9 || n > MAX_RAW_LENGTH) return null;
  let count = 0;
  let first = -1;
  let plain = true; // only digits and the fast path's separators
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++count > 9) return null;
      if (first < 0) first = c - 48;
    } else if (c === 43 /* + */) {
      return null;
    } else if (c !== 32 && c !== 45 && c !== 46 && c !== 47 && c !== 0xa0) {
      plain = false;
    }
  }
  if (count !== 9 || first === 0) return null;
  let digits: string;
  if (plain) {
    digits = '';
    for (let i = 0; i < n; i++) {
      const c = raw.charCodeAt(i);
      if (c >= 48 && c <= 57) digits += raw.charAt(i);
    }
  } else {
    const shape = readShape(raw);
    if (shape === null || shape.international) return null;
    digits = shape.digits;
  }
  return readWithPlus(digits);
}

/** Every reading of an input, primary first: [] when invalid, one or two E.164 numbers (rule 9). */
export function readingsOf(raw: string): string[] {
  const primary = normalise(raw);
  if (primary === null) return [];
  const other = otherReading(raw);
  return other === null || other === primary ? [primary] : [primary, other];
}

/** The reference for rule 9, straight from its words (slow; tests compare the functions above with it). */
export function readingsFull(raw: string): string[] {
  const primary = normaliseFull(raw);
  if (primary === null) return [];
  const shape = readShape(raw);
  if (shape === null || shape.international || shape.digits.startsWith('0')) return [primary];
  const plus = normaliseFull(`+${shape.digits}`);
  return plus === null || plus === primary ? [primary] : [primary, plus];
}

/**
 * The reading the previous normaliser (n1, before rule 9) missed when it read `e164` from 9 bare
 * digits: the '+' reading of those digits, or null. Stored deny-list entries are keys, not the text
 * they came from, so an upgrade lists this reading too (wrongly blocking at worst; never allowing).
 */
export function missedReading(e164: string): string | null {
  const nsn = e164.slice(-9);
  return normalise(nsn) === e164 ? otherReading(nsn) : null;
}
