/**
 * Worker thread: opens a list's source, parses it, sorts it and builds its Bloom filter — seconds of
 * CPU for 12 million lines — so that the main thread keeps answering checks while a list loads.
 * Results travel back as transferred buffers (no copy): the sorted keys and the filter's binary form.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildGeneration } from '../lists/generation.js';
import { fetchList } from './fetch.js';
import type { TermsTableParts } from '../lists/terms-table.js';
import type { SourceValidators } from './source.js';
import type { ListKind } from '../config/list-spec.js';
import type { LoadPacing } from './pacing.js';
import { WORK_UNIT_BYTES, WORK_UNIT_KEYS, workerPace } from './worker-pace.js';

export interface BuildRequest {
  readonly source: string;
  readonly previous: SourceValidators | null;
  readonly falsePositiveRate: number;
  readonly expectedNumbers?: number | undefined;
  /** A consent list: read the consent terms after each number. */
  readonly terms?: boolean | undefined;
  /** Source read settings (refresh/fetch.ts); each defaults when absent. */
  readonly settleMs?: number | undefined;
  readonly maxListBytes?: number | undefined;
  readonly maxLineChars?: number | undefined;
  /** The list's kind: what a line with two readings means (refresh/parse.ts). */
  readonly kind: ListKind;
  /** How the build paces itself (refresh/pacing.ts); off when absent. */
  readonly pacing?: LoadPacing | undefined;
  /** Set by build-in-worker.ts when pacing is on: the main thread's instructions (refresh/worker-pace.ts). */
  readonly pace?: SharedArrayBuffer | undefined;
}

export type BuildResponse =
  | { readonly kind: 'unchanged'; readonly validators: SourceValidators }
  | {
      readonly kind: 'changed';
      readonly validators: SourceValidators;
      readonly label: string;
      readonly sourceDate: number | null;
      readonly fetchedAt: number;
      readonly counts: { lines: number; numbers: number; blank: number; comments: number; header: boolean; badLines: number; badLineNumbers: number[]; bytes: number; textBytes: number; durationMs: number };
      readonly fingerprint: string;
      readonly keys: Float64Array;
      /** Consent lists: the terms table's arrays (lists/terms-table.ts), transferred like the keys. */
      readonly terms: TermsTableParts | null;
      readonly filter: Uint8Array;
      readonly duplicates: number;
      readonly buildMs: number;
    }
  | { readonly kind: 'error'; readonly code: string | null; readonly message: string };

async function run(req: BuildRequest): Promise<{ response: BuildResponse; transfer: ArrayBuffer[] }> {
  const pace = req.pace === undefined ? null : workerPace(req.pace);
  const opened = await fetchList(req.source, req.previous, pace === null ? req : { ...req, onParsed: (bytes) => pace(bytes / WORK_UNIT_BYTES) });
  if (opened.kind === 'unchanged') return { response: { kind: 'unchanged', validators: opened.validators }, transfer: [] };
  const { read, fetchedAt } = opened;
  const built = read.numbers === 0 ? null : buildGeneration(read.keys, req.falsePositiveRate, pace === null ? undefined : (keys) => pace(keys / WORK_UNIT_KEYS));
  // The sorted keys are sent as a view of their own buffer, transferred without a copy.
  const keys = built === null ? new Float64Array(0) : (built.set.keys() as Float64Array);
  const filterBuf = built === null ? Buffer.alloc(0) : built.filter.toBinary();
  // A standalone copy of the filter's bytes, so its buffer can be transferred whole.
  const filter = new Uint8Array(filterBuf.length);
  filter.set(filterBuf);
  const { keys: _raw, terms, fingerprint, sourceDate, ...counts } = read;
  // Three typed arrays, transferred: no Map of strings cloned into the main thread (issue 17).
  const termsParts = terms === null ? null : terms.parts();
  const termsBuffers = termsParts === null ? [] : [termsParts.keys.buffer, termsParts.ends.buffer, termsParts.bytes.buffer].filter((b, i, all) => b.byteLength > 0 && all.indexOf(b) === i);
  return {
    response: {
      kind: 'changed',
      validators: opened.validators,
      label: opened.label,
      sourceDate: opened.sourceDate?.getTime() ?? null,
      fetchedAt,
      counts: { ...counts, badLineNumbers: [...counts.badLineNumbers] },
      fingerprint,
      keys,
      terms: termsParts,
      filter,
      duplicates: built?.duplicates ?? 0,
      buildMs: built?.buildMs ?? 0,
    },
    transfer: [keys.buffer as ArrayBuffer, filter.buffer as ArrayBuffer, ...(termsBuffers as ArrayBuffer[])],
  };
}

if (parentPort !== null) {
  const port = parentPort;
  run(workerData as BuildRequest).then(
    ({ response, transfer }) => port.postMessage(response, transfer),
    (err: unknown) => port.postMessage({ kind: 'error', code: (err as { code?: string }).code ?? null, message: err instanceof Error ? err.message : String(err) } satisfies BuildResponse),
  );
}
