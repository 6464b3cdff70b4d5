/**
 * A lead file's CSV dialect, sniffed from its first lines: the separator (`,` `;` TAB `|`) and the line
 * ending (CRLF, LF or a lone CR). The quote is always `"` (RFC 4180; Excel, LibreOffice and the dialers'
 * exports all use it). Pure: no I/O.
 */

export type Separator = ',' | ';' | '\t' | '|';
export type LineEnding = '\r\n' | '\n' | '\r';

export interface Dialect {
  readonly separator: Separator;
  readonly lineEnding: LineEnding;
}

const SEPARATORS: readonly Separator[] = [';', ',', '\t', '|'];

/** Lines looked at: enough to see a consistent column count, few enough to stay cheap. */
const SNIFF_LINES = 20;

/** The first line ending met outside quotes; LF when the sample has none (a one-line file). */
export function sniffLineEnding(sample: string): LineEnding {
  let quoted = false;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (!quoted && c === 0x0a) return '\n';
    else if (!quoted && c === 0x0d) return sample.charCodeAt(i + 1) === 0x0a ? '\r\n' : i + 1 < sample.length ? '\r' : '\r\n';
  }
  return '\n';
}

/** Separator counts outside quotes on each of the first lines (a quoted separator is data). */
function countsPerLine(sample: string, lineEnding: LineEnding): Map<Separator, number[]> {
  const counts = new Map<Separator, number[]>(SEPARATORS.map((s) => [s, [0]]));
  const eol = lineEnding === '\r' ? 0x0d : 0x0a;
  let quoted = false;
  let lines = 1;
  for (let i = 0; i < sample.length && lines <= SNIFF_LINES; i++) {
    const ch = sample[i] as string;
    const c = ch.charCodeAt(0);
    if (c === 0x22) quoted = !quoted;
    else if (quoted) continue;
    else if (c === eol) {
      if (i + 1 >= sample.length) break;
      lines++;
      for (const list of counts.values()) list.push(0);
    } else {
      const list = counts.get(ch as Separator);
      if (list !== undefined) list[list.length - 1] = (list[list.length - 1] as number) + 1;
    }
  }
  return counts;
}

/**
 * The separator that splits the first lines most consistently: present on the first line, the same
 * count on most lines, more columns breaking ties. `;` wins a full tie (French Excel's default, and a
 * comma is common inside French data: "12,50"). A one-column file has none of them: `,` (never used).
 */
export function sniffSeparator(sample: string, lineEnding: LineEnding = sniffLineEnding(sample)): Separator {
  const counts = countsPerLine(sample, lineEnding);
  let best: Separator = ',';
  let bestScore = -1;
  for (const sep of SEPARATORS) {
    const perLine = counts.get(sep) as number[];
    const first = perLine[0] as number;
    if (first === 0) continue;
    const consistent = perLine.filter((n) => n === first).length / perLine.length;
    // Consistency first (as a fraction of lines), then the number of columns it makes.
    const score = Math.round(consistent * 100) * 1000 + Math.min(first, 999);
    if (score > bestScore) {
      best = sep;
      bestScore = score;
    }
  }
  return best;
}

export function sniffDialect(sample: string): Dialect {
  const lineEnding = sniffLineEnding(sample);
  return { separator: sniffSeparator(sample, lineEnding), lineEnding };
}
