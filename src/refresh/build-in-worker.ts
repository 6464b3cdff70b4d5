/**
 * Runs list-build-worker in a worker thread and rebuilds the generation from its transferred
 * buffers. The main thread's share is a linear check of the sorted keys and wrapping the filter.
 */
import { Worker } from 'node:worker_threads';
import { NumberFilter } from '../lists/bloom.js';
import { CallgateError, ErrorCode, type ErrorCode as Code } from '../core/errors.js';
import { ExactSet } from '../lists/exact-set.js';
import { TermsTable } from '../lists/terms-table.js';
import type { BuiltGeneration } from '../lists/generation.js';
import type { BuildRequest, BuildResponse } from './build-worker.js';
import type { ListReadResult } from './read.js';
import type { SourceValidators } from './source.js';
import { newPaceBuffer, WorkerPacer, type WorkerPaceFigures } from './worker-pace.js';

export type BuildOutcome =
  | { readonly kind: 'unchanged'; readonly validators: SourceValidators }
  | {
      readonly kind: 'changed';
      readonly validators: SourceValidators;
      readonly sourceDate: Date | null;
      readonly fetchedAt: number;
      /** Counts and fingerprint of what was read; `keys` are the sorted unique numbers. */
      readonly read: ListReadResult;
      /** Null when the source had no valid number. */
      readonly built: BuiltGeneration | null;
    };

function startWorker(request: BuildRequest): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./build-worker.js', import.meta.url), { workerData: request });
  // Under the test runner this module is TypeScript: the worker registers tsx, then loads its source.
  const url = new URL('./build-worker.ts', import.meta.url).href;
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(code, { eval: true, workerData: request });
}

/** Told how a paced build went (refresh/worker-pace.ts), for the load's log line. */
export type BuildPaced = (figures: WorkerPaceFigures) => void;

export async function buildInWorker(request: BuildRequest, onPaced?: BuildPaced): Promise<BuildOutcome> {
  // Paced: the main thread watches its own timers while the worker runs, and tells it when to sleep.
  const pace = request.pacing?.enabled === true && request.pacing.worker ? newPaceBuffer() : undefined;
  const pacer = pace === undefined || request.pacing === undefined ? null : await WorkerPacer.start(pace, request.pacing);
  let worker: Worker;
  try {
    worker = startWorker(pace === undefined ? request : { ...request, pace });
  } catch (err) {
    pacer?.stop();
    throw err;
  }
  return new Promise<BuildResponse>((resolve, reject) => {
    worker.once('message', (m: BuildResponse) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new CallgateError(ErrorCode.LIST_READ, `list build worker exited with code ${code} before answering`)));
  })
    .finally(() => {
      if (pacer !== null) onPaced?.(pacer.stop());
      void worker.terminate();
    })
    .then((r): BuildOutcome => {
      switch (r.kind) {
        case 'unchanged':
          return r;
        case 'error':
          throw new CallgateError((r.code as Code | null) ?? ErrorCode.LIST_READ, r.message);
        case 'changed': {
          const set = r.keys.length === 0 ? null : ExactSet.fromSortedUnique(r.keys);
          const binary = Buffer.from(r.filter.buffer, r.filter.byteOffset, r.filter.byteLength);
          const built: BuiltGeneration | null = set === null ? null : { set, filter: NumberFilter.fromBinary(binary), filterBinary: binary, duplicates: r.duplicates, buildMs: r.buildMs };
          return {
            kind: 'changed',
            validators: r.validators,
            sourceDate: r.sourceDate === null ? null : new Date(r.sourceDate),
            fetchedAt: r.fetchedAt,
            read: { ...r.counts, keys: r.keys, terms: r.terms === null ? null : TermsTable.fromParts(r.terms), fingerprint: r.fingerprint },
            built,
          };
        }
        default: {
          const never: never = r;
          throw new Error(`unexpected worker reply ${JSON.stringify(never)}`);
        }
      }
    });
}
