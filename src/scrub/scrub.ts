/**
 * Scrubs one lead file through a running gate: reads it twice in bounded memory (once to learn its
 * encoding, once to parse it), sends the phone column in batches over the fail-closed client (a batch is
 * a list scrub, never a dial), several batches in flight, and writes every row — byte for byte, with
 * verdict, reason, e164 and retryAt appended — to the callable or the blocked file (or one annotated
 * file), plus a report listing bad and undecided rows by line. Rows are written in input order.
 */
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { BatchEntry } from '../client/replies.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { chooseColumn, type ColumnChoice } from './columns.js';
import { sniffDialect, type Dialect } from './dialect.js';
import { bomBytes, encodeText, hasUtf8Bom, TextReader, Utf8Check, type FileEncoding } from './encoding.js';
import { OutputFile } from './outputs.js';
import { Progress, type ProgressSink } from './progress.js';
import { CsvReader, type CsvRecord } from './reader.js';
import { APPENDED_COLUMNS, fromAnswer, numberOrBlock, type RowVerdict } from './row-verdict.js';
import { formatOutputLine, formatRecord } from './writer.js';

/** What the scrub needs of a client: batches (CallgateClient's, which answers fail-closed). */
export interface BatchChecker {
  batch(numbers: readonly string[], options?: { readonly campaign?: string }): Promise<BatchEntry[]>;
}

export interface ScrubOptions {
  readonly input: string;
  readonly campaign: string | null;
  readonly column: string | null;
  readonly outDir: string | null;
  readonly annotate: boolean;
  /** Numbers per batch. @default 1000 */
  readonly batchSize?: number;
  /** Batches in flight at once. @default 8 */
  readonly maxBatchesInFlight?: number;
  /** A row longer than this (characters) is a bad row. @default 65536 */
  readonly maxRowChars?: number;
  /** Where progress goes (stderr); null: none. */
  readonly progress?: ProgressSink | null;
}

export interface ScrubSummary {
  /** Rows scrubbed (the header and blank lines excluded). */
  readonly rows: number;
  readonly callable: number;
  readonly blocked: number;
  /** Bad rows (no number, unparseable, too long, broken quoting), all blocked. */
  readonly bad: number;
  /** Rows the gate could not decide (gate_unavailable, not_ready…), all blocked. */
  readonly undecided: number;
  readonly blankLines: number;
  readonly blockedByReason: Readonly<Record<string, number>>;
  /** The first bad or undecided rows' lines, for the summary line (the report has them all). */
  readonly firstProblemLines: readonly number[];
  readonly header: boolean;
  /** 1-based. */
  readonly column: number;
  readonly dialect: Dialect;
  readonly encoding: FileEncoding;
  readonly files: { readonly callable?: string; readonly blocked?: string; readonly annotated?: string; readonly report: string };
}

const READ_CHUNK_BYTES = 256 * 1024;
/** A batch is sent once it holds this many characters of rows, whatever its count: bounds memory. */
const BATCH_MAX_CHARS = 1024 * 1024;
const FIRST_LINES_SHOWN = 10;

interface Pending {
  readonly rows: readonly { readonly record: CsvRecord; readonly blocked: RowVerdict | null }[];
  readonly answers: Promise<BatchEntry[]>;
}

/** Pass 1: the encoding, from every byte (an invalid one late in the file still makes it Windows-1252), and a sample. */
async function sniffFile(path: string): Promise<{ encoding: FileEncoding; sample: Buffer }> {
  const check = new Utf8Check();
  const head: Buffer[] = [];
  let headBytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) {
    const bytes = chunk as Buffer;
    if (headBytes < 64 * 1024) {
      head.push(bytes);
      headBytes += bytes.length;
    }
    check.push(bytes);
    if (!check.valid && headBytes >= 64 * 1024) break;
  }
  const sample = Buffer.concat(head).subarray(0, 64 * 1024);
  const valid = check.valid && check.end();
  return { encoding: { encoding: valid ? 'utf-8' : 'windows-1252', bom: valid && hasUtf8Bom(sample) }, sample };
}

function outputPaths(input: string, outDir: string | null): { dir: string; base: string; ext: string } {
  const ext = extname(input) || '.csv';
  const base = basename(input, extname(input));
  return { dir: outDir ?? dirname(input), base, ext };
}

export async function scrubFile(options: ScrubOptions, client: BatchChecker): Promise<ScrubSummary> {
  let info;
  try {
    info = await stat(options.input);
  } catch (err) {
    throw new CallgateError(ErrorCode.SCRUB_INPUT, `cannot read ${options.input}: ${(err as Error).message}`);
  }
  if (!info.isFile()) throw new CallgateError(ErrorCode.SCRUB_INPUT, `${options.input} is not a file`);
  const batchSize = options.batchSize ?? 1000;
  const maxInFlight = options.maxBatchesInFlight ?? 8;
  const { encoding, sample } = await sniffFile(options.input);
  const sampleReader = new TextReader(encoding);
  const dialect = sniffDialect(sampleReader.decode(sample));
  const sep = dialect.separator;
  const { dir, base, ext } = outputPaths(options.input, options.outDir);
  const mode = info.mode & 0o666;

  const files: OutputFile[] = [];
  const create = async (name: string): Promise<OutputFile> => {
    const f = await OutputFile.create(join(dir, name), mode);
    files.push(f);
    return f;
  };
  let committed = false;
  try {
    const callableFile = options.annotate ? null : await create(`${base}.callable${ext}`);
    const blockedFile = options.annotate ? null : await create(`${base}.blocked${ext}`);
    const annotatedFile = options.annotate ? await create(`${base}.scrubbed${ext}`) : null;
    // The report's rows, kept aside until the summary that goes before them is known.
    const reportRows = await create(`${base}.report-rows.txt`);
    const bom = bomBytes(encoding);
    for (const f of [callableFile, blockedFile, annotatedFile]) if (f !== null) await f.write(bom);

    let choice: ColumnChoice | null = null;
    let columns = 0;
    let rows = 0;
    let callable = 0;
    let blocked = 0;
    let bad = 0;
    let undecided = 0;
    let blankLines = 0;
    let bytesRead = 0;
    const blockedByReason: Record<string, number> = {};
    const firstProblemLines: number[] = [];

    const progress = options.progress ? new Progress(options.progress, () => ({ rows, bytesRead, totalBytes: info.size })) : null;
    const inFlight: Pending[] = [];
    let batchRows: { record: CsvRecord; blocked: RowVerdict | null }[] = [];
    let batchNumbers: string[] = [];
    let batchChars = 0;

    const verdictOf = (pre: RowVerdict | null, answer: BatchEntry | undefined): RowVerdict =>
      // A missing answer cannot happen (the client answers one per number) but would block, never allow.
      pre ?? fromAnswer(answer ?? { number: null, verdict: 'block', reason: 'gate_unavailable', error: { code: 'gate_unavailable', message: 'no answer for this row' } });

    /** Writes the oldest batch in flight once answered: rows stay in input order. */
    const writeOldest = async (): Promise<void> => {
      const pending = inFlight.shift() as Pending;
      const answers = await pending.answers;
      let callableText = '';
      let blockedText = '';
      let allText = '';
      let reportText = '';
      let j = 0;
      for (const { record, blocked: pre } of pending.rows) {
        const v = verdictOf(pre, pre === null ? answers[j++] : undefined);
        const line = formatOutputLine(record.raw, columns, v.fields, sep, record.eol === '' ? dialect.lineEnding : record.eol);
        rows++;
        if (annotatedFile !== null) allText += line;
        if (v.callable) {
          callable++;
          if (annotatedFile === null) callableText += line;
        } else {
          blocked++;
          blockedByReason[v.reason] = (blockedByReason[v.reason] ?? 0) + 1;
          if (annotatedFile === null) blockedText += line;
        }
        if (v.bad) bad++;
        if (v.undecided) undecided++;
        if (v.bad || v.undecided) {
          if (firstProblemLines.length < FIRST_LINES_SHOWN) firstProblemLines.push(record.line);
          const where = record.lines > 1 ? `lines ${record.line}-${record.line + record.lines - 1}` : `line ${record.line}`;
          reportText += `${where}\t${v.reason}\n`;
        }
      }
      if (annotatedFile !== null) await annotatedFile.write(encodeText(allText, encoding.encoding));
      if (callableFile !== null) await callableFile.write(encodeText(callableText, encoding.encoding));
      if (blockedFile !== null) await blockedFile.write(encodeText(blockedText, encoding.encoding));
      if (reportText !== '') await reportRows.write(Buffer.from(reportText, 'utf8'));
    };

    const dispatch = async (): Promise<void> => {
      if (batchRows.length === 0) return;
      const numbers = batchNumbers;
      const answers = numbers.length === 0 ? Promise.resolve([]) : client.batch(numbers, options.campaign === null ? {} : { campaign: options.campaign });
      inFlight.push({ rows: batchRows, answers });
      batchRows = [];
      batchNumbers = [];
      batchChars = 0;
      while (inFlight.length >= maxInFlight) await writeOldest();
    };

    const writeHeader = async (record: CsvRecord): Promise<void> => {
      const line = `${record.raw ?? ''}${sep}${formatRecord(APPENDED_COLUMNS, sep)}${record.eol === '' ? dialect.lineEnding : record.eol}`;
      const bytes = encodeText(line, encoding.encoding);
      for (const f of [callableFile, blockedFile, annotatedFile]) if (f !== null) await f.write(bytes);
    };

    /** Takes one record; a promise only when it must be waited for (a header to write, a batch to send): most rows cost no await. */
    const onRecord = (record: CsvRecord): Promise<void> | null => {
      if (record.raw === '' && record.problem === null) {
        blankLines++;
        return null;
      }
      if (choice === null) {
        choice = chooseColumn(record.fields, options.column);
        columns = record.fields.length;
        if (choice.header) return writeHeader(record);
      }
      const decided = numberOrBlock(record, choice.index);
      if ('number' in decided) batchNumbers.push(decided.number);
      batchRows.push({ record, blocked: 'blocked' in decided ? decided.blocked : null });
      batchChars += record.raw?.length ?? 0;
      if (batchNumbers.length >= batchSize || batchChars >= BATCH_MAX_CHARS || batchRows.length >= 2 * batchSize) return dispatch();
      return null;
    };

    try {
      const reader = new CsvReader(dialect, { maxRowChars: options.maxRowChars ?? 65_536 });
      const text = new TextReader(encoding);
      for await (const chunk of createReadStream(options.input, { highWaterMark: READ_CHUNK_BYTES })) {
        const bytes = chunk as Buffer;
        bytesRead += bytes.length;
        for (const record of reader.push(text.decode(bytes))) {
          const wait = onRecord(record);
          if (wait !== null) await wait;
        }
      }
      const tail = text.end();
      for (const record of tail === '' ? reader.end() : [...reader.push(tail), ...reader.end()]) {
        const wait = onRecord(record);
        if (wait !== null) await wait;
      }
      await dispatch();
      while (inFlight.length > 0) await writeOldest();
    } finally {
      progress?.stop();
      // A failure with batches in flight: their answers are awaited so none rejects unobserved.
      await Promise.allSettled(inFlight.map((p) => p.answers));
    }

    const summaryText = [
      `callgate scrub report: ${basename(options.input)}`,
      `rows ${rows}: callable ${callable}, blocked ${blocked} (bad rows ${bad}, not decided by the gate ${undecided}); blank lines skipped ${blankLines}`,
      `blocked by reason: ${Object.entries(blockedByReason).map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`,
      'bad and undecided rows (line in the input, reason):',
      '',
    ].join('\n');
    const reportFile = await create(`${base}.report.txt`);
    await reportFile.write(Buffer.from(summaryText, 'utf8'));
    await reportRows.commit();
    for await (const chunk of createReadStream(reportRows.path)) await reportFile.write(chunk as Buffer);
    await unlink(reportRows.path);
    for (const f of files) if (f !== reportRows) await f.commit();
    committed = true;
    const c = choice as ColumnChoice | null;
    return {
      rows,
      callable,
      blocked,
      bad,
      undecided,
      blankLines,
      blockedByReason,
      firstProblemLines,
      header: c?.header ?? false,
      column: (c?.index ?? 0) + 1,
      dialect,
      encoding,
      files: {
        ...(callableFile ? { callable: callableFile.path } : {}),
        ...(blockedFile ? { blocked: blockedFile.path } : {}),
        ...(annotatedFile ? { annotated: annotatedFile.path } : {}),
        report: reportFile.path,
      },
    };
  } finally {
    if (!committed) {
      for (const f of files) await f.discard();
      await unlink(join(dir, `${base}.report-rows.txt`)).catch(() => undefined);
    }
  }
}
