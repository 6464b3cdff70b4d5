/**
 * The shape check a frame passes before JSON.parse: a request is one flat object whose values are
 * scalars, except one flat array of strings (a batch's "numbers"). A scan of the brackets outside
 * strings refuses anything deeper at the first offending byte — a 1 MB frame of `[` used to stall
 * the event loop ~0.8 s in JSON.parse for every client (issue 12 item 3) — and it collects the
 * top-level keys, so a frame that names a key twice is refused: parsers disagree on which value
 * wins (JSON.parse takes the last), and a reply must answer what the dialer meant (issue 11 item 6).
 * Pure: no I/O.
 */

/** Most top-level keys a frame may have; the protocol uses at most 6. */
export const MAX_FRAME_KEYS = 16;

/** What `scanFrame` returns for a refused shape (a count of keys is never negative). */
export const NOT_OBJECT = -1;
export const TOO_DEEP = -2;
export const TOO_MANY_KEYS = -3;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Index of the quote that closes the string opened at `open`, or -1 when it never closes. */
function stringEnd(text: string, open: number): number {
  // indexOf skips string bodies natively: measured faster than a char loop even on short strings.
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return -1;
    // A quote preceded by an odd number of backslashes is escaped.
    let b = i - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if (((i - 1 - b) & 1) === 0) return i;
  }
}

/**
 * Walks the frame once, outside strings. Returns the number of top-level keys written (duplicates
 * included: fewer own keys after JSON.parse means a key was named twice, see `duplicateKey`), or
 * NOT_OBJECT / TOO_DEEP / TOO_MANY_KEYS. Text that is not JSON at all may pass: JSON.parse refuses
 * it next, and only ever sees nesting of depth 2 or less.
 */
export function scanFrame(text: string): number {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  if (text.charCodeAt(i) !== OPEN_OBJECT) return NOT_OBJECT;
  let depth = 0;
  // At depth 1, whether the next string is a key (just after `{` or a `,`).
  let expectKey = false;
  let keys = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) return keys;
      if (depth === 1 && expectKey) {
        if (++keys > MAX_FRAME_KEYS) return TOO_MANY_KEYS;
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT) {
      if (depth !== 0) return TOO_DEEP;
      depth = 1;
      expectKey = true;
    } else if (c === OPEN_ARRAY) {
      if (depth !== 1) return TOO_DEEP;
      depth = 2;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      // Past the end of the object: anything more is not JSON, and JSON.parse says so.
      if (--depth <= 0) return keys;
    } else if (c === COMMA && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** The first top-level key named twice (a frame that passed `scanFrame`); null when none is. */
export function duplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) return null;
      if (depth === 1 && expectKey) {
        // Escapes are decoded: "numb\u0065r" is "number".
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    } else if (c === COMMA && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}
