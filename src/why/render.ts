/**
 * The text `callgate why` prints (why/answer.ts rendered for a person): per reading, the lists that hold the
 * number and since when, consent terms, refusal and attempts, then each campaign's verdict now. Pure.
 */
import type { Known, WhyAnswer, WhyChange, WhyHistory, WhyList, WhyReading, WhyVerdict } from './answer.js';

function known<T>(v: Known<T>, show: (t: T) => string): string {
  return v === 'unknown' ? 'unknown' : show(v);
}

function changeText(what: string, c: WhyChange): string {
  return `${what} ${c.at} by ${c.who === 'unknown' ? 'unknown (no longer recorded)' : c.who}`;
}

function listLines(l: WhyList): string[] {
  const kind = l.kind === 'deny' ? 'deny' : (l.role ?? 'allow');
  const head = `${l.list} (${kind})`;
  const out: string[] = [];
  const holds = l.kind === 'deny' ? known(l.holds, (h) => (h ? 'holds the number' : 'does not hold it')) : `${l.state ?? 'absent'}`;
  out.push(`${head}: ${holds === 'unknown' ? 'unknown (Redis did not answer)' : holds}`);
  if (l.file === null) out.push('  no generation loaded');
  else {
    const f = l.file;
    const listed = known(f.listed, (b) => (b ? 'lists it' : 'does not list it'));
    const from = [f.source === null ? null : `source ${f.source}`, f.sourceDate === null ? null : `dated ${f.sourceDate}`].filter((x) => x !== null).join(', ');
    out.push(`  file generation ${f.generation} (installed ${f.installedAt}${from === '' ? '' : `, ${from}`}, ${f.count} numbers): ${listed}`);
  }
  if (l.added !== null) out.push(`  ${changeText(l.kind === 'deny' ? 'added' : 'granted', l.added)}`);
  if (l.revoked !== null) out.push(`  ${changeText('revoked', l.revoked)}`);
  if (l.removed === 'unknown') out.push('  withdrawn during the day: unknown (the record of changes did not answer)');
  else if (l.removed !== undefined && l.removed !== null) out.push(`  ${changeText('addition withdrawn', l.removed)}`);
  if (l.terms !== undefined) {
    const t = l.terms;
    out.push(`  terms: consented ${t.consentedAt ?? '-'}, source ${t.source || '-'}, proof ${t.proof || '-'}, expires ${t.expiresAt ?? 'never'}`);
  }
  return out;
}

/** A list worth showing: it holds the number (or may), or the day changed something about it. */
function relevant(l: WhyList): boolean {
  return l.holds !== false || l.added !== null || l.revoked !== null || (l.removed ?? null) !== null || (l.file?.listed ?? false) !== false;
}

function historyLines(h: WhyHistory): string[] {
  if (!h.kept) return ['refusal, attempts: not kept in embedded mode (no policy there reads them)'];
  if (!h.answered) return ['refusal, attempts: unknown (Redis did not answer)'];
  const refusal = h.refusal === null ? 'none running' : `refused ${h.refusal.at}, no call until ${h.refusal.until}`;
  const a = h.attempts;
  return [`refusal: ${refusal}`, `attempts: ${a.count} in the last ${a.windowDays} days${a.oldestAt === null ? '' : ` (oldest ${a.oldestAt})`}`];
}

function verdictLines(vs: readonly WhyVerdict[]): string[] {
  const name = (v: WhyVerdict): string => v.campaign ?? '(default)';
  const width = Math.max(...vs.map((v) => name(v).length));
  const policyWidth = Math.max(...vs.map((v) => v.policy.length));
  return vs.map((v) => `${name(v).padEnd(width)}  ${v.policy.padEnd(policyWidth)}  ${v.verdict}  ${v.reason}${v.retryAt === undefined ? '' : `  retry at ${v.retryAt}`}`);
}

function readingLines(r: WhyReading): string[] {
  const lists = r.lists.filter(relevant);
  const others = r.lists.filter((l) => !relevant(l)).map((l) => l.list);
  return [
    r.number,
    '  lists:',
    ...(lists.length === 0 ? ['    none holds it'] : lists.flatMap(listLines).map((l) => `    ${l}`)),
    ...(others.length === 0 ? [] : [`    not on: ${others.join(', ')}`]),
    ...historyLines(r.history).map((l) => `  ${l}`),
    '  verdicts now (campaign, policy, verdict, reason):',
    ...verdictLines(r.verdicts).map((l) => `    ${l}`),
  ];
}

export function renderWhy(a: WhyAnswer): string {
  const lines = [`${JSON.stringify(a.input)}: ${a.readings.length} reading(s), ${a.mode} mode, at ${a.at}`, ...a.readings.flatMap(readingLines)];
  if (a.readings.length > 1) lines.push('as written (a check allows only if every reading allows):', ...verdictLines(a.verdicts).map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}
