/**
 * The query string of the HTTP check doors (GET /v1/check, POST /v1/outcome), parsed so that it cannot
 * change the number (issue 14 item 1). URLSearchParams and form decoding turn a literal `+` into a space,
 * and dialplans do not percent-encode it: `number=+508411234` would become the 9-digit ` 508411234`,
 * a different number (two readings, numbers/normalise.ts rule 9). Here a `+` is a plus, `%2B` too; only
 * `%XX` escapes are decoded, and a malformed one is refused. A parameter named twice is refused (which of
 * the two would a dialer mean?), and so is one this door does not know (a typo such as `campain=` would
 * otherwise silently check under the default policy). Pure: no I/O.
 */

/** A refused query: its stable code (also the HTTP reply's `error.code`) and an exact message. */
export interface QueryError {
  readonly code: QueryErrorCode;
  readonly message: string;
}

export type QueryErrorCode = 'bad_query' | 'duplicate_parameter' | 'unknown_parameter' | 'query_too_long';

export type ParsedQuery = { readonly ok: true; readonly params: ReadonlyMap<string, string> } | { readonly ok: false; readonly error: QueryError };

/** Longest accepted query string (undecoded): a check needs well under 300 characters. */
export const MAX_QUERY_LENGTH = 2048;

/** Most parameters in one query: the doors take at most 6. */
export const MAX_QUERY_PARAMETERS = 16;

/** A parameter name or value shown in a message: bounded, and quoted so control characters show. */
function shown(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

/** A hexadecimal digit's value, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/** `%XX` escapes decoded as UTF-8; `+` left as it is; null when an escape or the UTF-8 it spells is malformed. */
export function decodeComponent(s: string): string | null {
  let at = s.indexOf('%');
  if (at < 0) return s;
  // Escapes of ASCII (`%2B`, `%20`: every encoded number) decoded here, each to its one character, as
  // decodeURIComponent does; anything else (a UTF-8 byte, a malformed escape) goes to it whole.
  let out = '';
  let from = 0;
  const n = s.length;
  while (at >= 0) {
    if (at + 2 >= n) return decodeStrict(s);
    const high = hexValue(s.charCodeAt(at + 1));
    const low = hexValue(s.charCodeAt(at + 2));
    if (high < 0 || high > 7 || low < 0) return decodeStrict(s);
    out += s.slice(from, at) + String.fromCharCode(high * 16 + low);
    from = at + 3;
    at = s.indexOf('%', from);
  }
  return from === n ? out : out + s.slice(from);
}

function decodeStrict(s: string): string | null {
  try {
    // decodeURIComponent never touches `+` and throws on a malformed escape or UTF-8 sequence.
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * Parses `query` (without the leading `?`) against the parameter names a door accepts. Empty pieces
 * (`a=1&&b=2`, a trailing `&`) are skipped; a piece without `=` is a parameter with an empty value.
 */
export function parseQuery(query: string, allowed: ReadonlySet<string>): ParsedQuery {
  const length = query.length;
  if (length > MAX_QUERY_LENGTH) return fail('query_too_long', `the query string has ${length} characters; at most ${MAX_QUERY_LENGTH}`);
  const params = new Map<string, string>();
  if (length === 0) return { ok: true, params };
  // The pieces are counted before any is read, so that the refusal does not depend on their contents.
  let pieces = 1;
  for (let at = query.indexOf('&'); at >= 0; at = query.indexOf('&', at + 1)) pieces++;
  if (pieces > MAX_QUERY_PARAMETERS) return fail('query_too_long', `the query string has ${pieces} parameters; at most ${MAX_QUERY_PARAMETERS}`);
  let from = 0;
  while (from <= length) {
    let end = query.indexOf('&', from);
    if (end < 0) end = length;
    if (end > from) {
      const eq = query.indexOf('=', from);
      const named = eq >= 0 && eq < end;
      const rawName = query.slice(from, named ? eq : end);
      const rawValue = named ? query.slice(eq + 1, end) : '';
      const name = decodeComponent(rawName);
      if (name === null) return fail('bad_query', `parameter name ${shown(rawName)} has a malformed %-escape`);
      if (!allowed.has(name)) return fail('unknown_parameter', `unknown parameter ${shown(name)}; expected one of ${[...allowed].join(', ')}`);
      const value = decodeComponent(rawValue);
      if (value === null) return fail('bad_query', `parameter ${shown(name)} has a malformed %-escape`);
      if (params.has(name)) return fail('duplicate_parameter', `parameter ${shown(name)} appears more than once`);
      params.set(name, value);
    }
    from = end + 1;
  }
  return { ok: true, params };
}

function fail(code: QueryErrorCode, message: string): ParsedQuery {
  return { ok: false, error: { code, message } };
}

/**
 * The raw query string of a request target (after `?`, before any `#`), undecoded. A `?` inside the fragment
 * starts no query (`/v1/check#x?number=…` has none), as the URL parser, and so the route lookup, read it.
 */
export function rawQueryOf(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return '';
  const hash = target.indexOf('#');
  if (hash < 0) return target.slice(q + 1);
  return hash < q ? '' : target.slice(q + 1, hash);
}

/** A boolean parameter: `1`/`true`/`yes` or `0`/`false`/`no`; null for anything else. */
export function flagValue(value: string): boolean | null {
  switch (value.toLowerCase()) {
    case '1':
    case 'true':
    case 'yes':
      return true;
    case '0':
    case 'false':
    case 'no':
      return false;
    default:
      return null;
  }
}
