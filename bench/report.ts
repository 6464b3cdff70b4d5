/**
 * Figures as a reader sees them: the Markdown table printed at the end of a run (to paste into a PR),
 * and `--compare OLD.json`'s old → new per figure. Pure: no I/O.
 */
import type { BudgetOutcome } from './budgets.js';

export type Better = 'lower' | 'higher' | 'none';

export interface Figure {
  readonly unit: string;
  readonly better: Better;
  /** One value per round (per pass for in-process baselines). */
  readonly runs: readonly number[];
  readonly median: number;
}

export interface Ratio {
  readonly value: number;
  readonly formula: string;
  /** Per round, when the inputs were measured in the same rounds. */
  readonly runs: readonly number[];
}

export function unitOf(name: string): { unit: string; better: Better } {
  if (name.endsWith('_us')) return { unit: 'µs', better: 'lower' };
  if (name.endsWith('.ns')) return { unit: 'ns', better: 'lower' };
  if (name.endsWith('_per_s')) return { unit: '/s', better: 'higher' };
  if (name.endsWith('_s')) return { unit: 's', better: 'lower' };
  if (name.endsWith('_mb')) return { unit: 'MB', better: 'lower' };
  if (name.endsWith('.errors') || name.endsWith('.lost')) return { unit: 'count', better: 'lower' };
  return { unit: '', better: 'none' };
}

export function fmt(value: number | null | undefined, unit = ''): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (unit === '/s') return value >= 1e6 ? `${(value / 1e6).toFixed(2)}M/s` : value >= 1e3 ? `${(value / 1e3).toFixed(1)}k/s` : `${value.toFixed(0)}/s`;
  const n = Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
  return unit === '' || unit === 'count' ? n : `${n} ${unit}`;
}

const TARGETS = ['echo', 'callgate', 'callgate-redis'] as const;

/** Rows of the table: scenario.metric (per target) in reading order. */
function rowKeys(figures: Readonly<Record<string, Figure>>): string[] {
  const keys: string[] = [];
  for (const name of Object.keys(figures)) {
    const dot = name.indexOf('.');
    const target = name.slice(0, dot);
    const key = name.slice(dot + 1);
    if (!(TARGETS as readonly string[]).includes(target)) continue;
    if (key.endsWith('.errors') || key.endsWith('.lost') || key.endsWith('send_lag_p99_us') || key.endsWith('.rate_per_s')) continue;
    if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}

export function markdownTable(figures: Readonly<Record<string, Figure>>, ratios: Readonly<Record<string, Ratio>>, budgets: readonly BudgetOutcome[], rounds: number): string {
  const present = TARGETS.filter((t) => Object.keys(figures).some((n) => n.startsWith(`${t}.`)));
  const lines: string[] = [];
  lines.push(`| figure (median of ${rounds}) | ${present.join(' | ')} |`);
  lines.push(`|---|${present.map(() => '---:').join('|')}|`);
  for (const key of rowKeys(figures)) {
    const cells = present.map((t) => {
      const f = figures[`${t}.${key}`];
      return f === undefined ? '–' : fmt(f.median, f.unit);
    });
    lines.push(`| ${key} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('| baseline | median |');
  lines.push('|---|---:|');
  for (const [name, f] of Object.entries(figures)) {
    if ((TARGETS as readonly string[]).includes(name.slice(0, name.indexOf('.')))) continue;
    lines.push(`| ${name} | ${fmt(f.median, f.unit)} |`);
  }
  lines.push('');
  lines.push('| ratio (median of per-round ratios) | value |');
  lines.push('|---|---:|');
  for (const [name, r] of Object.entries(ratios)) lines.push(`| ${name} (${r.formula}) | ${fmt(r.value)} |`);
  if (budgets.length > 0) {
    lines.push('');
    lines.push('| budget | value | limit | value/limit per round (median) | outcome |');
    lines.push('|---|---:|---:|---:|---|');
    for (const b of budgets) {
      const unit = unitOf(b.figure).unit;
      const outcome =
        b.status === 'skipped' ? `skipped (no ${b.missing.join(', ')})`
        : b.status === 'inconclusive' ? `inconclusive (the echo floor itself: ${fmt(b.floorValue, unit)})`
        : b.status === 'ok' ? (b.advisory ? 'ok (advisory)' : 'ok')
        : b.advisory ? 'missed (advisory, not enforced)' : '**BROKEN**';
      const perRound = b.roundRatios.length === 0 ? '–' : `${b.roundRatios.map((r) => fmt(r)).join(', ')} (${fmt(b.medianRatio)})`;
      lines.push(`| ${b.id}: ${b.figure} ${b.op} ${b.limitText} | ${fmt(b.value, unit)} | ${fmt(b.limit, unit)} | ${perRound} | ${outcome} |`);
    }
  }
  return lines.join('\n');
}

export interface ComparableResult {
  readonly figures: Readonly<Record<string, Figure>>;
  readonly ratios?: Readonly<Record<string, Ratio>>;
}

/** old → new per figure with the % change; `better`/`worse` when the change passes 10% in a known direction. */
export function compareResults(oldR: ComparableResult, newR: ComparableResult): string {
  const lines: string[] = ['| figure | old | new | change |', '|---|---:|---:|---:|'];
  const names = [...new Set([...Object.keys(oldR.figures), ...Object.keys(newR.figures)])];
  for (const name of names) {
    const o = oldR.figures[name];
    const n = newR.figures[name];
    const unit = (n ?? o)?.unit ?? '';
    const better = (n ?? o)?.better ?? 'none';
    lines.push(`| ${name} | ${fmt(o?.median, unit)} | ${fmt(n?.median, unit)} | ${change(o?.median, n?.median, better)} |`);
  }
  const ratioNames = [...new Set([...Object.keys(oldR.ratios ?? {}), ...Object.keys(newR.ratios ?? {})])];
  for (const name of ratioNames) {
    const o = oldR.ratios?.[name]?.value;
    const n = newR.ratios?.[name]?.value;
    lines.push(`| ratio ${name} | ${fmt(o)} | ${fmt(n)} | ${change(o, n, 'none')} |`);
  }
  return lines.join('\n');
}

function change(o: number | undefined, n: number | undefined, better: Better): string {
  if (o === undefined || n === undefined || !Number.isFinite(o) || !Number.isFinite(n) || o === 0) return '–';
  const pct = ((n - o) / Math.abs(o)) * 100;
  const sign = pct >= 0 ? '+' : '';
  let verdict = '';
  if (Math.abs(pct) >= 10 && better !== 'none') verdict = (pct < 0) === (better === 'lower') ? ' better' : ' worse';
  return `${sign}${pct.toFixed(1)}%${verdict}`;
}
