/**
 * One decoded request → its reply frame: picks the policy (the campaign's, else the default), runs
 * the deny-lists fast path or the rules check, records an outcome, and does the bookkeeping — the
 * counts for supervision and the audit trail's record. Every decision that is audited is decided
 * once here, so the trail says exactly what the dialer was told.
 */
import { encodeCheckRecordOpen, type AuditEvent } from '../audit/record.js';
import { isoClock } from '../core/iso-clock.js';
import type { Checker } from './deny-lists.js';
import type { CheckStats } from '../supervision/check-stats.js';
import type { GateSnapshot, ListRegistry } from '../lists/registry.js';
import { normalise, readingsOf } from '../numbers/normalise.js';
import { e164ToKey } from '../numbers/number-key.js';
import { FR_REFUSAL_DAYS, type PolicyConfig } from '../rules/policy.js';
import { encodeBatchReply, encodeCheckReply, encodeErrorReply, encodeOutcomeReply, type CallOutcome, type Request } from './protocol.js';
import type { OutcomeRecorder } from '../backends/list-backend.js';
import type { RulesChecker } from '../rules/rules-check.js';
import { resolveCampaign, type CampaignConfig, type RulesConfig } from '../config/rules-config.js';
import { type CheckResult, Reason } from './verdict.js';

/** Where decisions are recorded (the audit log); null: not recorded. */
export interface AuditSink {
  /** False while records cannot be written (disk failing): policies with allowNeedsAudit then block. */
  readonly writable: boolean;
  /** False when the record was refused (buffer at its bound, closed): it is lost, and counted so. */
  write(event: AuditEvent): boolean;
  /** One event already serialised as a JSON object; false as for write(). */
  writeJson(json: string): boolean;
  /** writeJson() of `open` + `}` (audit/record.ts encodeCheckRecordOpen), without copying the record to splice it. */
  writeJsonOpen(open: string): boolean;
}

/** An allow turned into a block because its audit record cannot be kept (the consent consulted stays on record). */
function auditUnavailable(r: CheckResult): CheckResult {
  return r.consent === undefined ? { verdict: 'block', reason: Reason.AUDIT_UNAVAILABLE, number: r.number } : { verdict: 'block', reason: Reason.AUDIT_UNAVAILABLE, number: r.number, consent: r.consent };
}

export interface RequestHandlerDeps {
  readonly registry: ListRegistry;
  readonly checker: Checker;
  readonly rules: RulesConfig;
  readonly rulesChecker: RulesChecker;
  /** Where outcomes are kept (backends/list-backend.ts): Redis, or nowhere in embedded mode. */
  readonly outcomes: OutcomeRecorder;
  /** null: counting off. */
  readonly stats: CheckStats | null;
  readonly audit: AuditSink | null;
  readonly batchSliceSize: number;
  readonly now?: () => number;
}

/**
 * The decision of one single-number check, before its bookkeeping: what `single` answers, and what `callgate why`
 * (verdictNow) reports, by the same code. `campaign` null: a campaign that must be refused (resolveCampaign).
 */
function decideOne(deps: RequestHandlerDeps, campaign: CampaignConfig | null, raw: string, dial: boolean): CheckResult | Promise<CheckResult> {
  // Checks under an unknown campaign block: the campaign's policy, which may require consent, is unknown.
  if (campaign === null) return { verdict: 'block', reason: Reason.UNKNOWN_CAMPAIGN, number: normalise(raw) };
  if (isDenyListsOnly(campaign.policy)) return deps.checker.check(raw);
  return deps.rulesChecker.check({ raw, campaign, dial });
}

/**
 * The verdict a check of `raw` under `campaignName` would get now, never counted as an attempt (dial false) and
 * never recorded or counted (`callgate why`): the same decision as a check, including the block an allow gets
 * while its audit record cannot be written (allowNeedsAudit).
 */
export async function verdictNow(deps: RequestHandlerDeps, raw: string, campaignName: string | null): Promise<{ readonly policy: string; readonly result: CheckResult }> {
  const fallback: CampaignConfig = { policy: deps.rules.defaultPolicy, sector: null };
  const campaign = resolveCampaign(deps.rules, fallback, campaignName);
  const policy = campaign?.policy ?? fallback.policy;
  let result = await decideOne(deps, campaign, raw, false);
  if (result.verdict === 'allow' && policy.allowNeedsAudit && (deps.audit === null || !deps.audit.writable)) result = auditUnavailable(result);
  return { policy: policy.name, result };
}

/** A policy with none of the rules: the deny-lists fast path answers it. */
export function isDenyListsOnly(p: PolicyConfig): boolean {
  return !p.requireConsent && !p.hours && p.frequencyCap === null && p.refusalDays === null && p.bannedSectors.length === 0;
}

/** One single-number check, decided, recorded and counted exactly as a `check` request is: its result, not encoded. */
export type SingleCheck = (number: string, campaign: string | null, dial: boolean) => CheckResult | Promise<CheckResult>;

export interface CheckHandlers {
  /** A decoded request → its encoded reply frame (the socket's). */
  readonly handle: (request: Request) => string | Promise<string>;
  /** A single check's result, for a door that encodes its own reply (HTTP): the same decision and bookkeeping as `handle`. */
  readonly checkOne: SingleCheck;
}

export function createRequestHandler(deps: RequestHandlerDeps): (request: Request) => string | Promise<string> {
  return createCheckHandlers(deps).handle;
}

export function createCheckHandlers(deps: RequestHandlerDeps): CheckHandlers {
  const { checker, stats, audit } = deps;
  const now = deps.now ?? Date.now;
  const fallback: CampaignConfig = { policy: deps.rules.defaultPolicy, sector: null };
  // Outcomes are recorded whatever the campaign (a refusal protects the consumer under every policy).
  const campaignOf = (name: string | null): CampaignConfig => resolveCampaign(deps.rules, fallback, name) ?? fallback;
  // Checks under an unknown campaign block: the campaign's policy, which may require consent, is unknown.
  const unknownCampaign = (raw: string): CheckResult => ({ verdict: 'block', reason: Reason.UNKNOWN_CAMPAIGN, number: normalise(raw) });

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
  // The record's instant: the second's ISO prefix is formatted once a second (core/iso-clock.ts).
  const iso = isoClock();
  const at = (): string => iso(now());

  /** Turns an allow that cannot be recorded into a block, records the check, counts it. */
  const recordCheck = (raw: string, campaign: string | null, policy: PolicyConfig, dial: boolean, started: number, decided: CheckResult): CheckResult => {
    let r = decided;
    // An allow that needs its record: refused while records cannot be written (one boolean read), and
    // refused if its record is not taken (buffer at its bound); that block's own record is the one lost.
    if (r.verdict === 'allow' && policy.allowNeedsAudit && (audit === null || !audit.writable)) r = auditUnavailable(r);
    if (audit !== null && !writeCheckRecord(raw, campaign, policy, dial, r) && r.verdict === 'allow' && policy.allowNeedsAudit) r = auditUnavailable(r);
    if (stats !== null) {
      stats.recordCheck(stats.campaignLabel(campaign), r.verdict, r.reason, (performance.now() - started) * 1000);
    }
    return r;
  };

  const writeCheckRecord = (raw: string, campaign: string | null, policy: PolicyConfig, dial: boolean, r: CheckResult): boolean => {
    if (audit === null) return false;
    generations();
    // The record is serialised from fragments (audit/record.ts), with the generations' JSON cached per snapshot.
    return audit.writeJsonOpen(encodeCheckRecordOpen(at(), raw, campaign, policy.name, dial, r, gensJson));
  };

  const checkOne: SingleCheck = (number, campaignName, dial) => {
    const started = performance.now();
    const campaign = resolveCampaign(deps.rules, fallback, campaignName);
    const policy = campaign?.policy ?? fallback.policy;
    const r = decideOne(deps, campaign, number, dial);
    // A synchronous decision allocates no closure; an asynchronous one takes one reaction.
    if (!('then' in r)) return recordCheck(number, campaignName, policy, dial, started, r);
    return r.then((d) => recordCheck(number, campaignName, policy, dial, started, d));
  };

  /** The socket's `check`: checkOne's result, encoded with the request's id. */
  const single = (request: Extract<Request, { op: 'check' }>): string | Promise<string> => {
    const r = checkOne(request.number, request.campaign, request.dial);
    if (!('then' in r)) return encodeCheckReply(request.id, r);
    return r.then((d) => encodeCheckReply(request.id, d));
  };

  const batch = async (request: Extract<Request, { op: 'batch' }>): Promise<string> => {
    const known = resolveCampaign(deps.rules, fallback, request.campaign);
    const campaign = known ?? fallback;
    let results: CheckResult[];
    if (known === null) {
      results = request.numbers.map(unknownCampaign);
    } else if (isDenyListsOnly(campaign.policy)) {
      results = await checker.checkBatch(request.numbers, deps.batchSliceSize);
    } else {
      // A scrub under a rules policy: each number under every rule, never counted as an attempt.
      results = [];
      for (let i = 0; i < request.numbers.length; i += deps.batchSliceSize) {
        const slice = request.numbers.slice(i, i + deps.batchSliceSize);
        results.push(...(await Promise.all(slice.map((raw) => deps.rulesChecker.check({ raw, campaign, dial: false })))));
      }
    }
    // The batch's record is its summary: under allowNeedsAudit its allows stand only if the summary is taken.
    const needsAudit = campaign.policy.allowNeedsAudit;
    if (needsAudit && (audit === null || !audit.writable)) results = results.map((r) => (r.verdict === 'allow' ? auditUnavailable(r) : r));
    const blockedByReason: Record<string, number> = {};
    for (const r of results) if (r.verdict === 'block') blockedByReason[r.reason] = (blockedByReason[r.reason] ?? 0) + 1;
    const taken = audit?.write({ type: 'batch', at: at(), campaign: request.campaign, policy: campaign.policy.name, count: results.length, blockedByReason, generations: generations() }) ?? false;
    if (needsAudit && !taken) results = results.map((r) => (r.verdict === 'allow' ? auditUnavailable(r) : r));
    const label = stats?.campaignLabel(request.campaign);
    if (label !== undefined) for (const r of results) stats?.record(label, r.verdict, r.reason);
    return encodeBatchReply(request.id, results);
  };

  const outcome = async (request: Extract<Request, { op: 'outcome' }>): Promise<string> => {
    // Under every reading (numbers/normalise.ts rule 9): the call reached one of them, we cannot say which,
    // so a refusal (and an attempt) counts for each.
    const readings = readingsOf(request.number);
    const e164 = readings[0];
    if (e164 === undefined) return encodeErrorReply(request.id, 'bad_request', `"number" ${JSON.stringify(request.number.slice(0, 40))} is not a valid number`);
    const policy = campaignOf(request.campaign).policy;
    let replicated = true;
    for (const number of readings) {
      // A refusal is recorded whatever this campaign's policy: the policies that apply refusals read it.
      const kept = await deps.outcomes.recordOutcome(e164ToKey(number), request.outcome as CallOutcome, { refusalDays: policy.refusalDays ?? FR_REFUSAL_DAYS });
      if (kept !== undefined && !kept.replicated) replicated = false;
      audit?.write({ type: 'outcome', at: at(), number, campaign: request.campaign, outcome: request.outcome });
    }
    return encodeOutcomeReply(request.id, e164, request.outcome, replicated);
  };

  const handle = (request: Request): string | Promise<string> => {
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
  return { handle, checkOne };
}
