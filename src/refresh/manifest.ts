/**
 * A list manifest: what the producer says it wrote, so that a file caught half-written (or a download
 * cut short) is refused rather than installed (issue 11). Pure: list-source reads the text beside the
 * list (`FILE.manifest`), this file parses it and compares it with what was read.
 *
 * Format (text, one `key=value` a line; blank lines and `#` comments ignored; at least one key):
 *   lines=12345            the count of lines of the list's text (`wc -l`; after gunzip for a .gz)
 *   sha256=<64 hex>        sha256 of the list file's bytes as stored (`sha256sum FILE`; the .gz itself)
 * An unknown key refuses the manifest: a check we cannot make must not pass silently.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';

export interface ListManifest {
  readonly lines: number | null;
  readonly sha256: string | null;
}

/** The manifest's name beside a list file. */
export function manifestPathOf(listPath: string): string {
  return `${listPath}.manifest`;
}

/** A manifest is a few lines; anything bigger is not one. */
export const MAX_MANIFEST_BYTES = 4096;

export function parseManifest(text: string, label: string): ListManifest {
  let lines: number | null = null;
  let sha256: string | null = null;
  const bad = (why: string): CallgateError => new CallgateError(ErrorCode.LIST_MANIFEST, `manifest of ${label}: ${why}`);
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq === -1 ? line : line.slice(0, eq).trim();
    const value = eq === -1 ? '' : line.slice(eq + 1).trim();
    if (key === 'lines') {
      if (!/^\d{1,15}$/.test(value)) throw bad(`lines: expected a count, got ${JSON.stringify(value)}`);
      lines = Number(value);
    } else if (key === 'sha256') {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) throw bad(`sha256: expected 64 hex digits, got ${JSON.stringify(value.slice(0, 80))}`);
      sha256 = value.toLowerCase();
    } else {
      throw bad(`unknown key ${JSON.stringify(key.slice(0, 40))} (expected lines=, sha256=)`);
    }
  }
  if (lines === null && sha256 === null) throw bad('no lines= or sha256= entry');
  return { lines, sha256 };
}

/** Refuses a read that does not match its manifest. */
export function checkManifest(manifest: ListManifest, read: { readonly lines: number; readonly fingerprint: string }, label: string): void {
  if (manifest.sha256 !== null && manifest.sha256 !== read.fingerprint) {
    throw new CallgateError(ErrorCode.LIST_MANIFEST, `list ${label} does not match its manifest: sha256 ${read.fingerprint} read, ${manifest.sha256} expected; refused`);
  }
  if (manifest.lines !== null && manifest.lines !== read.lines) {
    throw new CallgateError(ErrorCode.LIST_MANIFEST, `list ${label} does not match its manifest: ${read.lines} lines read, ${manifest.lines} expected; refused`);
  }
}
