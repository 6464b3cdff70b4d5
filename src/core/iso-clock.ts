/**
 * ISO 8601 UTC instants for the check path (the audit record's `at`): the same text as Date.prototype.toISOString,
 * with the second's prefix ("2026-12-03T14:05:09.") built once per second, so that a record costs a 3-digit
 * suffix, not a Date and its formatting (issue 17).
 */

const MS_DIGITS = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, '0')}Z`);

/** A formatter of ms since the epoch as toISOString writes them; it keeps the last second's prefix. */
export function isoClock(): (ms: number) => string {
  let second = Number.NaN;
  let prefix = '';
  return (ms: number): string => {
    // Out of the plain four-digit-year range, or not an integer: toISOString itself (it throws on NaN as before).
    if (!Number.isInteger(ms) || ms < 0 || ms >= 253_402_300_800_000) return new Date(ms).toISOString();
    const rest = ms % 1000;
    const s = ms - rest;
    if (s !== second) {
      second = s;
      prefix = new Date(s).toISOString().slice(0, 20);
    }
    return prefix + (MS_DIGITS[rest] as string);
  };
}
