/**
 * How a measuring child hands its figures to the script that started it: one JSON line on stdout,
 * `{"figures":{"<name>":value or [value per round]}}`, the last line (progress goes to stderr).
 */

export type FiguresLine<V extends number | number[] = number | number[]> = Record<string, V>;

export function printFigures(figures: Readonly<FiguresLine>): void {
  process.stdout.write(`${JSON.stringify({ figures })}\n`);
}

/** The figures of a child's stdout: its last line. `V` is what that child prints (a value, or one per round). */
export function parseFigures<V extends number | number[] = number | number[]>(stdout: string): FiguresLine<V> {
  const line = stdout.trim().split('\n').pop() ?? '';
  return (JSON.parse(line) as { figures: FiguresLine<V> }).figures;
}
