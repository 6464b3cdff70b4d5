/**
 * The rules check's one question to whatever keeps the lists' exact members and the consumer's state:
 * "for these Bloom hits of one number, what is each membership, the last refusal, the attempts of the
 * window — and count this dial if everything allows it" (RulesFacts.decide). Two implementations answer it
 * with the same meaning: MemoryRulesFacts below (embedded mode: every generation in memory, no per-consumer
 * state) and RedisRulesFacts (rules/facts-redis.ts: one decide script call, redis/confirm.ts, redis/lua/decide.lua).
 * test/conformance/rules-facts.test.ts runs one table of cases against both, so the rule written twice
 * (here in TypeScript, there in Lua) cannot drift apart unseen.
 * Pure: no I/O here; the types of the script's input and reply live here so that the rules own their meaning.
 */
import { judgeAllowEntry, type AllowAnswer } from './consent-terms.js';
import type { ListSlot, ListState } from '../lists/registry.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { BucketPlan } from '../redis/bucketing.js';

/**
 * What a confirmed item means to decide(): 'deny' blocks as 'member' or 'unconfirmed'; 'deny-contract' likewise,
 * except that a 'member' is lifted by a 'contract' item answering 'member' (policy contractExceptionLists);
 * 'consent' and 'contract' (allow-lists) satisfy requireConsent only as 'member'; 'allow' is answered, never used.
 */
export type DecideRole = 'deny' | 'deny-contract' | 'consent' | 'contract' | 'allow';

/** One Bloom hit as the decide script reads it (the fields of redis/confirm.ts ConfirmItem, plus its role). */
export interface DecideItem {
  readonly list: string;
  readonly generation: string;
  /** The generation marker's plan (GenerationMarker.buckets). */
  readonly buckets: BucketPlan;
  readonly key: NumberKey;
  readonly role: DecideRole;
}

export interface DecideInput {
  /** The consumer: E.164 digits as an integer (the items' key, normally). */
  readonly key: NumberKey;
  /** Bloom hits to confirm, as confirm() does; their answers come back in this order. */
  readonly items: readonly DecideItem[];
  /** Count this check as a call attempt when everything allows it. */
  readonly dial: boolean;
  /**
   * A 'consent' or 'contract' item must answer 'member'. Pass false when the caller already knows a consent or
   * contract otherwise (or the policy does not require one).
   */
  readonly requireConsent: boolean;
  /** Rules evaluated in JS (sector bans, hours, holidays, a deny hit known in memory) block: nothing is counted. */
  readonly jsBlocked: boolean;
  /** Attempts allowed within the window; null: no cap (attempts are still recorded). @default 4 */
  readonly cap?: number | null | undefined;
  /** Frequency window. @default 30 days */
  readonly windowMs?: number | undefined;
  /** A recorded refusal blocks counting until it ends. false: refusals are not applied. @default true */
  readonly refusals?: boolean | undefined;
}

/**
 * The facts decide() read, all from one atomic script on Redis's clock. attempts and oldestAttemptAt are as
 * BEFORE this check's own attempt: what the policy's frequency rule compares with the cap.
 */
export interface DecideFacts {
  /** Per item; allow-list items may also answer 'revoked' or 'expired' (rules/consent-terms.ts judgeAllowEntry). */
  readonly memberships: AllowAnswer[];
  /** Per item: a consent item's stored terms (rules/consent-terms.ts), else null. */
  readonly terms: (string | null)[];
  /** End of the no-call period after the last refusal (ms) while one is recorded (its key expires then), else null. */
  readonly refusedUntil: number | null;
  /** When the last refusal was recorded (ms), for the audit trail. */
  readonly refusedAt: number | null;
  /** Attempts within the window, before this one. */
  readonly attempts: number;
  readonly oldestAttemptAt: number | null;
  /** This check was recorded as an attempt: the caller may dial only when this is true. */
  readonly counted: boolean;
  /** Redis's clock (ms) when the script ran; the local clock when Redis did not answer. */
  readonly now: number;
  /** False on timeout, disconnection or error: memberships are all 'unconfirmed' and the other facts unknown. */
  readonly answered: boolean;
}

/** One Bloom (or intraday) hit of the number on a list of the snapshot the check read, with its role under the policy. */
export interface FactsHit {
  readonly slot: ListSlot;
  readonly key: NumberKey;
  readonly role: DecideRole;
}

/**
 * What the rules check asks: DecideInput with the hits as the snapshot's slots (an implementation needs the
 * slot itself — its members, its intraday overlay — not only the list's name), and the gate's clock.
 */
export interface FactsQuery extends Omit<DecideInput, 'items'> {
  readonly hits: readonly FactsHit[];
  /** Frequency window (also how far back this sidecar's own attempts count, Redis mode). */
  readonly windowMs: number;
  /** The gate's clock (injectable) when the check began. */
  readonly now: number;
}

/**
 * The port. memberships and terms come back in the order of query.hits. Fail-closed: an implementation that
 * cannot answer says so (answered: false, every membership 'unconfirmed'); it never throws.
 */
export interface RulesFacts {
  decide(query: FactsQuery): Promise<DecideFacts>;
}

/**
 * Embedded mode: every generation is in memory and no per-consumer state is kept (rules-config.ts refuses a
 * policy with a frequency cap or refusals without Redis), so there is no refusal, no attempt, nothing counted.
 */
export class MemoryRulesFacts implements RulesFacts {
  decide(query: FactsQuery): Promise<DecideFacts> {
    return Promise.resolve(factsInMemory(query.hits, query.now));
  }
}

/** What memory says of one item: decide.lua's rule for the same keys (redis/lua/decide.lua). */
function answerInMemory(slot: ListSlot, key: NumberKey, now: number): { answer: AllowAnswer; terms: string | null } {
  const m = (slot.state as ListState).members;
  if (m.where !== 'memory') return { answer: 'unconfirmed', terms: null };
  if (slot.spec.kind === 'deny') return { answer: m.set.has(key) || slot.intraday.has(key) ? 'member' : 'absent', terms: null };
  // Granted during the day: no terms, and the grant lifted any earlier revocation.
  if (slot.intraday.has(key)) return { answer: 'member', terms: null };
  const terms = m.terms?.get(key) ?? null;
  return { answer: judgeAllowEntry(m.set.has(key), terms, slot.intraday.revokedAt(key), now), terms };
}

/** Memberships without Redis: every generation in memory (embedded mode, policies that keep no state). */
function factsInMemory(items: readonly { slot: ListSlot; key: NumberKey }[], now: number): DecideFacts {
  const answers = items.map(({ slot, key }) => answerInMemory(slot, key, now));
  return {
    memberships: answers.map((a) => a.answer),
    terms: answers.map((a) => a.terms),
    refusedUntil: null,
    refusedAt: null,
    attempts: 0,
    oldestAttemptAt: null,
    counted: false,
    now,
    answered: true,
  };
}
