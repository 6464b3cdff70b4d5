/**
 * The one way a list source is read: open it (list-source: settled, conditional), read it (list-read:
 * framing, caps), then verify that what was read is whole (list-source's verify: same file, length,
 * manifest). The refresh worker and `callgate load` both go through here, so neither can install a
 * list caught half-written.
 */
import { readListStream, type ListReadResult } from './read.js';
import { openSource, type SourceValidators } from './source.js';
import type { ListKind } from '../config/list-spec.js';

export interface ListFetchOptions {
  readonly settleMs?: number | undefined;
  readonly maxListBytes?: number | undefined;
  readonly maxLineChars?: number | undefined;
  readonly expectedNumbers?: number | undefined;
  readonly terms?: boolean | undefined;
  /** What a line with two readings means (refresh/parse.ts). @default 'deny' */
  readonly kind?: ListKind | undefined;
  /** Told the size of each chunk of text parsed (refresh/read.ts). @default none */
  readonly onParsed?: ((bytes: number) => void) | undefined;
}

export type ListFetch =
  | { readonly kind: 'unchanged'; readonly validators: SourceValidators }
  | {
      readonly kind: 'changed';
      readonly validators: SourceValidators;
      readonly label: string;
      readonly sourceDate: Date | null;
      readonly fetchedAt: number;
      readonly read: ListReadResult;
    };

export async function fetchList(source: string, previous: SourceValidators | null, opts: ListFetchOptions = {}): Promise<ListFetch> {
  const opened = await openSource(source, previous, opts.settleMs === undefined ? {} : { settleMs: opts.settleMs });
  if (opened.kind === 'unchanged') return { kind: 'unchanged', validators: opened.validators };
  const fetchedAt = Date.now();
  const read = await readListStream(opened.stream, {
    gzip: opened.gzip,
    label: opened.label,
    expectedNumbers: opts.expectedNumbers,
    terms: opts.terms,
    kind: opts.kind,
    maxListBytes: opts.maxListBytes,
    maxLineChars: opts.maxLineChars,
    onParsed: opts.onParsed,
  });
  await opened.verify(read);
  return { kind: 'changed', validators: opened.validators, label: opened.label, sourceDate: opened.sourceDate, fetchedAt, read };
}
