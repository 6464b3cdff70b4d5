// TEMPORARY stub: replaced by the full normaliser (overseas mapping, fast path). Same exports.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export const NORMALISER_VERSION = 'stub';

/** Normalise a number as a dialer or a list file writes it to E.164, or null when invalid. */
export function normalise(raw: string): string | null {
  const p = parsePhoneNumberFromString(raw, 'FR');
  return p && p.isValid() ? p.number : null;
}
