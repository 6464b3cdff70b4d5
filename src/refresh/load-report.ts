/**
 * Load reports and the empty-list refusal shared by loads (`callgate load`). A list with no valid
 * number is refused: it never replaces a good one, and at start-up the list stays "not ready"
 * (checks block) rather than serving an empty list that would allow everything.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { ListReadResult } from './read.js';
import type { ListSpec } from '../config/list-spec.js';

export interface LoadReport {
  readonly list: string;
  readonly generation: string;
  readonly lines: number;
  readonly numbers: number;
  readonly unique: number;
  readonly duplicates: number;
  readonly badLines: number;
  readonly badLineNumbers: readonly number[];
  readonly header: boolean;
  readonly readMs: number;
  readonly buildMs: number;
  readonly filterBytes: number;
  readonly exactBytes: number;
}

export function refuseEmpty(spec: ListSpec, read: ListReadResult): void {
  if (read.numbers === 0) {
    throw new CallgateError(
      ErrorCode.LIST_EMPTY,
      `list ${spec.name}: ${spec.source ?? 'source'} has no valid number (${read.lines} lines, ${read.badLines} bad); refusing to load it`,
    );
  }
}

export function reportOf(
  spec: ListSpec,
  generation: string,
  read: ListReadResult,
  unique: number,
  duplicates: number,
  buildMs: number,
  filterBytes: number,
  exactBytes: number,
): LoadReport {
  return {
    list: spec.name,
    generation,
    lines: read.lines,
    numbers: read.numbers,
    unique,
    duplicates,
    badLines: read.badLines,
    badLineNumbers: read.badLineNumbers,
    header: read.header,
    readMs: Math.round(read.durationMs),
    buildMs: Math.round(buildMs),
    filterBytes,
    exactBytes,
  };
}
