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

/** `%XX` escapes decoded as UTF-8; `+` left as it is; null when an escape or the UTF-8 it spells is malformed. */
export function decodeComponent(s: string): string | null {
  if (!s.includes('%')) return s;
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
  if (query.length > MAX_QUERY_LENGTH) return fail('query_too_long', `the query string has ${query.length} characters; at most ${MAX_QUERY_LENGTH}`);
  const params = new Map<string, string>();
  if (query.length === 0) return { ok: true, params };
  const pieces = query.split('&');
  if (pieces.length > MAX_QUERY_PARAMETERS) return fail('query_too_long', `the query string has ${pieces.length} parameters; at most ${MAX_QUERY_PARAMETERS}`);
  for (const piece of pieces) {
    if (piece.length === 0) continue;
    const eq = piece.indexOf('=');
    const rawName = eq < 0 ? piece : piece.slice(0, eq);
    const rawValue = eq < 0 ? '' : piece.slice(eq + 1);
    const name = decodeComponent(rawName);
    if (name === null) return fail('bad_query', `parameter name ${shown(rawName)} has a malformed %-escape`);
    if (!allowed.has(name)) return fail('unknown_parameter', `unknown parameter ${shown(name)}; expected one of ${[...allowed].join(', ')}`);
    const value = decodeComponent(rawValue);
    if (value === null) return fail('bad_query', `parameter ${shown(name)} has a malformed %-escape`);
    if (params.has(name)) return fail('duplicate_parameter', `parameter ${shown(name)} appears more than once`);
    params.set(name, value);
  }
  return { ok: true, params };
}

function fail(code: QueryErrorCode, message: string): ParsedQuery {
  return { ok: false, error: { code, message } };
}

/** The raw query string of a request target (after `?`, before any `#`), undecoded. */
export function rawQueryOf(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return '';
  const hash = target.indexOf('#', q);
  return hash < 0 ? target.slice(q + 1) : target.slice(q + 1, hash);
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
