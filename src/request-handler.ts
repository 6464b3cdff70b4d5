/**
 * One decoded request → its reply frame: picks the policy (the campaign's, else the default), runs
 * the deny-lists fast path or the rules check, records an outcome, and does the bookkeeping — the
 * counts for supervision and the audit trail's record. Every decision that is audited is decided
 * once here, so the trail says exactly what the dialer was told.
 */
import { AUDIT_INPUT_MAX_CHARS, type AuditEvent } from './audit-log.js';
import type { Checker } from './check.js';
import type { CheckStats } from './check-stats.js';
import type { GateSnapshot, ListRegistry } from './list-state.js';
import { readingsOf } from './normalise.js';
import { e164ToKey } from './number-key.js';
import { FR_REFUSAL_DAYS, type PolicyConfig } from './policy.js';
import { encodeBatchReply, encodeCheckReply, encodeErrorReply, encodeOutcomeReply, type CallOutcome, type Request } from './protocol.js';
import type { RedisStore } from './redis-store.js';
import type { RulesChecker } from './rules-check.js';
import type { CampaignConfig, RulesConfig } from './rules-config.js';
import type { CheckResult } from './verdict.js';

/** Where decisions are recorded (the audit log); null: not recorded. */
export interface AuditSink {
  write(event: AuditEvent): void;
  /** One event already serialised as a JSON object. */
  writeJson(json: string): void;
}

export interface RequestHandlerDeps {
  readonly registry: ListRegistry;
  readonly checker: Checker;
  readonly rules: RulesConfig;
  readonly rulesChecker: RulesChecker;
  readonly store: RedisStore | null;
  /** null: counting off. */
  readonly stats: CheckStats | null;
  readonly audit: AuditSink | null;
  readonly batchSliceSize: number;
  readonly now?: () => number;
}

/** A policy with none of the rules: the deny-lists fast path answers it. */
export function isDenyListsOnly(p: PolicyConfig): boolean {
  return !p.requireConsent && !p.hours && p.frequencyCap === null && p.refusalDays === null && p.bannedSectors.length === 0;
}

export function createRequestHandler(deps: RequestHandlerDeps): (request: Request) => string | Promise<string> {
  const { checker, stats, audit } = deps;
  const now = deps.now ?? Date.now;
  const fallback: CampaignConfig = { policy: deps.rules.defaultPolicy, sector: null };
  const campaignOf = (name: string | null): CampaignConfig => (name === null ? fallback : (deps.rules.campaigns.get(name) ?? fallback));

  // The generations a decision consulted, computed once per snapshot (object and JSON).
  let genSnap: GateSnapshot | null = null;
  let gens: Readonly<Record<string, string>> = {};
  let gensJson = '{}';
  const generations = (): Readonly<Record<string, string>> => {
    const snap = deps.registry.current;
    if (snap !== genSnap) {
      genSnap = snap;
      gens = Object.freeze(Object.fromEntries(snap.slots.flatMap((s) => (s.state === null ? [] : [[s.spec.name, s.state.generation]]))));
      gensJson = JSON.stringify(gens);
    }
    return gens;
  };
  // One ISO timestamp per millisecond, not per check.
  let isoMs = -1;
  let iso = '';
  const at = (): string => {
    const ms = now();
    if (ms !== isoMs) {
      isoMs = ms;
      iso = new Date(ms).toISOString();
    }
    return iso;
  };

  /**
   * The check record, serialised from fragments: every field is a known word, an E.164 number, an
   * ISO date or a cached JSON string, except the campaign and an invalid input (JSON-escaped). The
   * same fields as AuditCheck (audit-log.ts), which the reader parses.
   */
  const recordCheck = (raw: string, campaign: string | null, policy: PolicyConfig, dial: boolean, started: number, r: CheckResult): void => {
    if (stats !== null) {
      stats.recordCheck(stats.campaignLabel(campaign), r.verdict, r.reason, (performance.now() - started) * 1000);
    }
    if (audit === null) return;
    generations();
    audit.writeJson(
      `{"type":"check","at":"${at()}","number":${r.number === null ? `null,"input":${JSON.stringify(raw.slice(0, AUDIT_INPUT_MAX_CHARS))}` : `"${r.number}"`}` +
        `,"campaign":${campaign === null ? 'null' : JSON.stringify(campaign)},"policy":"${policy.name}","verdict":"${r.verdict}","reason":"${r.reason}"` +
        `${r.basis === undefined ? '' : `,"basis":"${r.basis}"`}${r.retryAt === undefined ? '' : `,"retryAt":"${r.retryAt}"`}${dial ? ',"dial":true' : ''}` +
        `${r.consent === undefined ? '' : `,"consent":${JSON.stringify(r.consent)}`}` +
        `,"generations":${gensJson}}`,
    );
  };

  const single = (request: Extract<Request, { op: 'check' }>): string | Promise<string> => {
    const started = performance.now();
    const campaign = campaignOf(request.campaign);
    const policy = campaign.policy;
    const done = (r: CheckResult): string => {
      recordCheck(request.number, request.campaign, policy, request.dial, started, r);
      return encodeCheckReply(request.id, r);
    };
    if (isDenyListsOnly(policy)) {
      const r = checker.check(request.number);
      return 'then' in r ? r.then(done) : done(r);
    }
    return deps.rulesChecker.check({ raw: request.number, campaign, dial: request.dial }).then(done);
  };

  const batch = async (request: Extract<Request, { op: 'batch' }>): Promise<string> => {
    const campaign = campaignOf(request.campaign);
    let results: CheckResult[];
    if (isDenyListsOnly(campaign.policy)) {
      results = await checker.checkBatch(request.numbers, deps.batchSliceSize);
    } else {
      // A scrub under a rules policy: each number under every rule, never counted as an attempt.
      results = [];
      for (let i = 0; i < request.numbers.length; i += deps.batchSliceSize) {
        const slice = request.numbers.slice(i, i + deps.batchSliceSize);
        results.push(...(await Promise.all(slice.map((raw) => deps.rulesChecker.check({ raw, campaign, dial: false })))));
      }
    }
    const blockedByReason: Record<string, number> = {};
    const label = stats?.campaignLabel(request.campaign);
    for (const r of results) {
      if (label !== undefined) stats?.record(label, r.verdict, r.reason);
      if (r.verdict === 'block') blockedByReason[r.reason] = (blockedByReason[r.reason] ?? 0) + 1;
    }
    audit?.write({ type: 'batch', at: at(), campaign: request.campaign, policy: campaign.policy.name, count: results.length, blockedByReason, generations: generations() });
    return encodeBatchReply(request.id, results);
  };

  const outcome = async (request: Extract<Request, { op: 'outcome' }>): Promise<string> => {
    // Under every reading (normalise.ts rule 9): the call reached one of them, we cannot say which,
    // so a refusal (and an attempt) counts for each.
    const readings = readingsOf(request.number);
    const e164 = readings[0];
    if (e164 === undefined) return encodeErrorReply(request.id, 'bad_request', `"number" ${JSON.stringify(request.number.slice(0, 40))} is not a valid number`);
    const policy = campaignOf(request.campaign).policy;
    for (const number of readings) {
      // A refusal is recorded whatever this campaign's policy: the policies that apply refusals read it.
      if (deps.store !== null) {
        await deps.store.recordOutcome(e164ToKey(number), request.outcome as CallOutcome, { refusalDays: policy.refusalDays ?? FR_REFUSAL_DAYS });
      }
      audit?.write({ type: 'outcome', at: at(), number, campaign: request.campaign, outcome: request.outcome });
    }
    return encodeOutcomeReply(request.id, e164, request.outcome);
  };

  return (request: Request): string | Promise<string> => {
    switch (request.op) {
      case 'check':
        return single(request);
      case 'batch':
        return batch(request);
      case 'outcome':
        return outcome(request);
      default: {
        const never: never = request;
        throw new Error(`unhandled op ${JSON.stringify(never)}`);
      }
    }
  };
}
