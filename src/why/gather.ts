/**
 * Gathers the answer of `callgate why NUMBER` (why/answer.ts) from what a check reads, in both modes through the
 * ports a check already uses: the snapshot's lists (file generation, the day's additions and revocations), ONE
 * RulesFacts question (rules/facts.ts, dial false: memberships, consent terms, refusal, attempts — nothing
 * counted), the backend's record of who made a change (embedded journal, Redis change stream), and each
 * campaign's verdict from check/request-handler.ts verdictNow (the check's own code, never a dial).
 * No I/O of its own: every fact comes through those ports.
 */
import { decodeTerms } from '../rules/consent-terms.js';
import type { AllowAnswer } from '../rules/consent-terms.js';
import type { DecideFacts, DecideRole, FactsHit, RulesFacts } from '../rules/facts.js';
import type { ChangeTrace, ListBackend } from '../backends/list-backend.js';
import type { ListRegistry, ListSlot } from '../lists/registry.js';
import { readingsOf } from '../numbers/normalise.js';
import { e164ToKey, type NumberKey } from '../numbers/number-key.js';
import { sourceLabel } from '../refresh/source.js';
import { verdictNow, type RequestHandlerDeps } from '../check/request-handler.js';
import { DAY_MS } from '../core/time.js';
import { WHY_VERSION, type Known, type WhyAnswer, type WhyChange, type WhyFile, type WhyHistory, type WhyList, type WhyReading, type WhyVerdict } from './answer.js';

/** The attempts window when no configured policy caps attempts (décret 2022-1313: 30 days). */
const DEFAULT_WINDOW_DAYS = 30;

export interface WhyDeps {
  readonly registry: ListRegistry;
  readonly backend: Pick<ListBackend, 'mode' | 'changesOf'>;
  /** A RulesFacts of its own (not counted in the unconfirmed_rate alert's figures). */
  readonly facts: RulesFacts;
  /** The request handler's dependencies: the verdicts come from its code. */
  readonly handler: RequestHandlerDeps;
  readonly now: () => number;
}

/** The campaigns a why reports: no campaign (the default policy) first, then each configured one. */
export function campaignNames(deps: Pick<WhyDeps, 'handler'>): Array<string | null> {
  return [null, ...deps.handler.rules.campaigns.keys()];
}

/** The longest attempts window among the configured policies: the one a why counts attempts over. */
function windowDays(deps: WhyDeps): number {
  const { rules } = deps.handler;
  const caps = [rules.defaultPolicy, ...[...rules.campaigns.values()].map((c) => c.policy)].flatMap((p) => (p.frequencyCap === null ? [] : [p.frequencyCap.windowDays]));
  return caps.length === 0 ? DEFAULT_WINDOW_DAYS : Math.max(...caps);
}

function roleOf(slot: ListSlot): DecideRole {
  return slot.spec.kind === 'deny' ? 'deny' : (slot.spec.role ?? 'allow');
}

const iso = (ms: number): string => new Date(ms).toISOString();

async function verdicts(deps: WhyDeps, raw: string): Promise<WhyVerdict[]> {
  const out: WhyVerdict[] = [];
  for (const campaign of campaignNames(deps)) {
    const { policy, result } = await verdictNow(deps.handler, raw, campaign);
    out.push({
      campaign,
      policy,
      verdict: result.verdict,
      reason: result.reason,
      ...(result.basis === undefined ? {} : { basis: result.basis }),
      ...(result.retryAt === undefined ? {} : { retryAt: result.retryAt }),
    });
  }
  return out;
}

/** The day's changes of the number, newest per list and op; 'unknown' when what keeps them did not answer. */
type Changes = readonly ChangeTrace[] | 'unknown';

function traceOf(changes: Changes, list: string, op: 'add' | 'remove'): ChangeTrace | null {
  return changes === 'unknown' ? null : (changes.find((c) => c.list === list && c.op === op) ?? null);
}

/** A change the overlay holds (its time), with who made it when the record still has it. */
function heldChange(changes: Changes, list: string, op: 'add' | 'remove', atMs: number | null): WhyChange | null {
  if (atMs === null) return null;
  return { at: iso(atMs), who: traceOf(changes, list, op)?.who ?? 'unknown' };
}

/** Whether the file generation lists the number: exact in memory; in Redis, known unless a day's addition answers for it. */
function fileListed(slot: ListSlot, key: NumberKey, answer: AllowAnswer | undefined): Known<boolean> {
  const state = slot.state;
  if (state === null) return false;
  const m = state.members;
  if (m.where === 'memory') return m.set.has(key);
  // A Bloom filter never misses a member of its generation.
  if (!state.filter.has(key)) return false;
  // Redis answers for the generation and the day's additions together: with an addition held, the file is not told apart.
  if (slot.intraday.has(key) || answer === undefined || answer === 'unconfirmed') return 'unknown';
  return answer !== 'absent';
}

function fileOf(slot: ListSlot, listed: Known<boolean>): WhyFile | null {
  const s = slot.state;
  if (s === null) return null;
  return {
    generation: s.generation,
    installedAt: s.loadedAt.toISOString(),
    sourceDate: s.sourceDate?.toISOString() ?? null,
    source: slot.spec.source === null ? null : sourceLabel(slot.spec.source),
    count: s.count,
    listed,
  };
}

function listOf(slot: ListSlot, key: NumberKey, answer: AllowAnswer | undefined, stored: string | null, changes: Changes): WhyList {
  const spec = slot.spec;
  const addedAt = slot.intraday.addedAt(key);
  // A deny-list's day's addition held here counts on its own, as in a check (Redis may have lost it, or not answer).
  const heldHere = spec.kind === 'deny' && addedAt !== null;
  const holds: Known<boolean> = heldHere ? true : answer === undefined || answer === 'unconfirmed' ? 'unknown' : answer === 'member';
  const base = {
    list: spec.name,
    kind: spec.kind,
    role: spec.kind === 'allow' ? (spec.role ?? null) : null,
    holds,
    file: fileOf(slot, fileListed(slot, key, answer)),
    added: heldChange(changes, spec.name, 'add', addedAt),
    revoked: spec.kind === 'allow' ? heldChange(changes, spec.name, 'remove', slot.intraday.revokedAt(key)) : null,
  };
  if (spec.kind === 'deny') {
    // An addition withdrawn during the day (`unblock`): only the record of changes keeps it.
    const removed = addedAt !== null ? null : changes === 'unknown' ? 'unknown' : traceOf(changes, spec.name, 'remove');
    return { ...base, removed: removed === null || removed === 'unknown' ? removed : { at: iso(removed.at), who: removed.who } };
  }
  // No answer: the list has no generation loaded.
  const state = answer === undefined || answer === 'unconfirmed' ? 'unknown' : answer === 'member' ? 'valid' : answer;
  const t = stored === null ? null : decodeTerms(stored);
  const terms = t === null ? undefined : { consentedAt: t.consentedAt === null ? null : iso(t.consentedAt), source: t.source, proof: t.proof, expiresAt: t.expiresAt === null ? null : iso(t.expiresAt) };
  return { ...base, state, ...(terms === undefined ? {} : { terms }) };
}

function historyOf(deps: WhyDeps, facts: DecideFacts, days: number): WhyHistory {
  if (deps.backend.mode === 'embedded') return { kept: false };
  if (!facts.answered) return { kept: true, answered: false };
  const running = facts.refusedUntil !== null && facts.refusedUntil > facts.now;
  return {
    kept: true,
    answered: true,
    refusal: running && facts.refusedAt !== null && facts.refusedUntil !== null ? { at: iso(facts.refusedAt), until: iso(facts.refusedUntil) } : null,
    attempts: { windowDays: days, count: facts.attempts, oldestAt: facts.oldestAttemptAt === null ? null : iso(facts.oldestAttemptAt) },
  };
}

async function readingOf(deps: WhyDeps, e164: string, days: number): Promise<WhyReading> {
  const key = e164ToKey(e164);
  const slots = deps.registry.current.slots;
  // Every loaded list is asked exactly (not only Bloom hits): a why is rare, and its answer must be exact.
  const hits: FactsHit[] = slots.filter((s) => s.state !== null).map((slot) => ({ slot, key, role: roleOf(slot) }));
  const facts = await deps.facts.decide({ key, hits, dial: false, requireConsent: false, jsBlocked: true, cap: null, windowMs: days * DAY_MS, refusals: true, now: deps.now() });
  let changes: Changes;
  try {
    changes = await deps.backend.changesOf(key);
  } catch {
    changes = 'unknown'; // Redis not answering: the changes themselves are known here, not who made them.
  }
  const lists = slots.map((slot) => {
    const i = hits.findIndex((h) => h.slot === slot);
    const answer: AllowAnswer | undefined = i === -1 ? undefined : facts.answered ? (facts.memberships[i] ?? 'unconfirmed') : 'unconfirmed';
    return listOf(slot, key, answer, i === -1 ? null : (facts.terms[i] ?? null), changes);
  });
  return { number: e164, lists, history: historyOf(deps, facts, days), verdicts: await verdicts(deps, e164) };
}

/** The answer for one number as written; null when it has no reading (not a number). */
export async function gatherWhy(deps: WhyDeps, raw: string): Promise<WhyAnswer | null> {
  const readings = readingsOf(raw);
  if (readings.length === 0) return null;
  const at = iso(deps.now());
  const days = windowDays(deps);
  const out: WhyReading[] = [];
  for (const e164 of readings) out.push(await readingOf(deps, e164, days));
  return { v: WHY_VERSION, at, mode: deps.backend.mode, input: raw, readings: out, verdicts: await verdicts(deps, raw) };
}
