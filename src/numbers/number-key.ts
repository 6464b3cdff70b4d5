/**
 * A normalised number as an integer key: the E.164 digits without '+'.
 * E.164 allows at most 15 digits, below 2^53, so a JS number holds every key exactly;
 * filters, the exact set and Redis buckets all work on this key, never on strings.
 */
export type NumberKey = number;

export function e164ToKey(e164: string): NumberKey {
  // Caller guarantees a normalised '+<digits>' string.
  return Number(e164.slice(1));
}

export function keyToE164(key: NumberKey): string {
  return `+${key}`;
}

/** Masks a number for logs: country code and last two digits only (numbers belong in the audit trail, not logs). */
export function maskNumber(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length <= 4) return '***';
  return `${value.startsWith('+') ? '+' : ''}${digits.slice(0, 2)}${'*'.repeat(digits.length - 4)}${digits.slice(-2)}`;
}
