/**
 * RulesFacts in Redis mode, the twin of rules/facts.ts MemoryRulesFacts: the hits become DecideItems and go
 * to ONE decide script call (the only Redis call of a rules check), Redis's answers are counted per list for
 * the unconfirmed_rate alert, and this sidecar's own copy (backends/fleet-copy.ts) is laid over them, the
 * blocking side winning, because Redis may have lost its data.
 * It sees the store only through DecideScript (one method), so that it does not depend on how redis/ is cut.
 */
import { judgeAllowEntry } from './consent-terms.js';
import type { DecideFacts, DecideInput, DecideItem, FactsHit, FactsQuery, RulesFacts } from './facts.js';
import type { LocalRuleFacts } from '../backends/fleet-copy.js';
import type { ListState } from '../lists/registry.js';
import type { NumberKey } from '../numbers/number-key.js';

/** The decide script (redis/confirm.ts Confirmer.decide): never throws; answered: false when Redis did not answer. */
export interface DecideScript {
  decide(input: DecideInput): Promise<DecideFacts>;
}

/** Counts Redis's answers per list (supervision/confirm-stats.ts ConfirmStats). */
export interface AnswerCounter {
  record(list: string, answer: string): void;
}

export interface RedisRulesFactsOptions {
  readonly script: DecideScript;
  /** Redis's answers per list, for the unconfirmed_rate alert; null: not counted. */
  readonly confirms: AnswerCounter | null;
  /** Refusals and attempts this sidecar recorded (its durable copy); null: none kept. */
  readonly local: LocalRuleFacts | null;
}

export class RedisRulesFacts implements RulesFacts {
  readonly #script: DecideScript;
  readonly #confirms: AnswerCounter | null;
  readonly #local: LocalRuleFacts | null;

  constructor(options: RedisRulesFactsOptions) {
    this.#script = options.script;
    this.#confirms = options.confirms;
    this.#local = options.local;
  }

  async decide(query: FactsQuery): Promise<DecideFacts> {
    const { key, hits, windowMs } = query;
    const items: DecideItem[] = hits.map(({ slot, key: k, role }) => {
      const m = (slot.state as ListState).members;
      return m.where === 'redis'
        ? { list: slot.spec.name, generation: m.generation, buckets: m.buckets, key: k, role }
        : { list: slot.spec.name, generation: 'none', buckets: 1, key: k, role };
    });
    const facts = await this.#script.decide({ key, items, dial: query.dial, requireConsent: query.requireConsent, jsBlocked: query.jsBlocked, cap: query.cap, windowMs, refusals: query.refusals });
    if (this.#confirms !== null) for (let i = 0; i < items.length; i++) this.#confirms.record((items[i] as DecideItem).list, facts.memberships[i] ?? 'unconfirmed');
    // Without an answer, nothing Redis keeps is known: the caller blocks; the copy cannot make it allow.
    if (!facts.answered) return facts;
    return withLocalCopy(facts, key, hits, this.#local, windowMs);
  }
}

/**
 * Redis's facts with this sidecar's own copy on top (backends/fleet-copy.ts), the blocking side winning: Redis may have
 * lost its data. A day's addition held here is a member of a deny-list; a revocation held here revokes unless a
 * consent dated after it lifts it; a refusal recorded here runs; attempts take the larger count.
 */
function withLocalCopy(facts: DecideFacts, key: NumberKey, hits: readonly FactsHit[], local: LocalRuleFacts | null, windowMs: number): DecideFacts {
  let memberships = facts.memberships;
  hits.forEach((h, i) => {
    const m = memberships[i];
    let next = m;
    if (h.slot.spec.kind === 'deny') {
      if (m === 'absent' && h.slot.intraday.has(h.key)) next = 'member';
    } else if (m === 'member') {
      const revokedAt = h.slot.intraday.revokedAt(h.key);
      if (revokedAt !== null) next = judgeAllowEntry(true, facts.terms[i] ?? null, revokedAt, facts.now);
    }
    if (next !== undefined && next !== m) {
      if (memberships === facts.memberships) memberships = [...memberships];
      memberships[i] = next;
    }
  });
  const refusal = local?.refusal(key, facts.now) ?? null;
  const attempts = local?.attempts(key, facts.now - windowMs) ?? { count: 0, oldest: null };
  const refused = refusal !== null && (facts.refusedUntil === null || refusal.until > facts.refusedUntil);
  // The attempt this very check counted is in the copy already; facts.attempts are those before it.
  const held = attempts.count - (facts.counted ? 1 : 0);
  const more = held > facts.attempts;
  if (memberships === facts.memberships && !refused && !more) return facts;
  return {
    ...facts,
    memberships,
    ...(refused ? { refusedUntil: refusal.until, refusedAt: refusal.at } : {}),
    ...(more ? { attempts: held, oldestAttemptAt: attempts.oldest } : {}),
  };
}
