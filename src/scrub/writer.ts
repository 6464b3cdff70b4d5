/**
 * Writing rows back: the row's own raw text (its quoting untouched) followed by the appended fields,
 * quoted only when they need it, and the row's own line ending. Pure: no I/O.
 */
import type { Separator } from './dialect.js';

/** A field as CSV text: quoted (quotes doubled) when it holds the separator, a quote or a line break. */
export function formatField(value: string, separator: Separator): string {
  if (value.includes(separator) || value.includes('"') || value.includes('\n') || value.includes('\r')) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

/** Fields joined into one record's text (no line ending). */
export function formatRecord(fields: readonly string[], separator: Separator): string {
  let out = '';
  for (let i = 0; i < fields.length; i++) out += (i === 0 ? '' : separator) + formatField(fields[i] as string, separator);
  return out;
}

/**
 * One output line: `raw` (the record as read; null for a record too long to keep, written as `columns`
 * empty fields so the appended ones stay under their header) then the appended fields.
 */
export function formatOutputLine(raw: string | null, columns: number, appended: readonly string[], separator: Separator, eol: string): string {
  const head = raw ?? separator.repeat(Math.max(0, columns - 1));
  return `${head}${separator}${formatRecord(appended, separator)}${eol}`;
}
