/**
 * One check: number as the dialer wrote it → E.164 → each deny-list's Bloom filter → exact
 * confirmation of the hits → verdict. A Bloom miss on every list answers synchronously; only hits
 * are confirmed, in memory (synchronously) or in Redis (one round trip for all hits).
 * Fail closed: anything that cannot be decided is a block with a reason saying why.
 * An input with two readings (numbers/normalise.ts rule 9) is allowed only if both are; the reply names the
 * reading that blocked.
 */
import { normalise, otherReading } from '../numbers/normalise.js';
import { e164ToKey, type NumberKey } from '../numbers/number-key.js';
import type { GateSnapshot, ListRegistry, ListSlot, ListState } from '../lists/registry.js';
import { type CheckResult, type Membership, Reason } from './verdict.js';
import { yieldToEventLoop } from '../core/time.js';


export interface Candidate {
  readonly state: ListState;
  readonly key: NumberKey;
}

/** Confirms Bloom hits whose members live outside the process (Redis). Never rejects. */
export interface RemoteConfirmer {
  confirm(candidates: readonly Candidate[]): Promise<Membership[]>;
}

const INVALID: CheckResult = Object.freeze({ verdict: 'block', reason: Reason.INVALID_NUMBER, number: null });

function block(reason: string, number: string): CheckResult {
  return { verdict: 'block', reason, number };
}

function allow(number: string): CheckResult {
  return { verdict: 'allow', reason: Reason.NOT_LISTED, number };
}

/** Work left after the synchronous part of a check: hits that need Redis. */
interface Pending {
  readonly e164: string;
  /** Deny-lists in configured order whose Bloom filter (or intraday additions) hit, with what memory already said. */
  readonly hits: readonly ListState[];
  readonly known: readonly (Membership | null)[];
}

/** The readings of one input still waiting for Redis (one or two), and the number an allow reports. */
interface PendingInput {
  readonly primary: string;
  readonly readings: readonly Pending[];
}

/** Rule 9: the first reading that blocks decides; all allow → allow, reported under the primary reading. */
function combine(input: PendingInput, results: readonly (CheckResult | undefined)[]): CheckResult {
  for (const r of results) {
    if (r === undefined) return block(Reason.UNCONFIRMED, input.primary);
    if (r.verdict === 'block') return r;
  }
  return allow(input.primary);
}

function decide(e164: string, hits: readonly ListState[], memberships: readonly (Membership | null)[]): CheckResult {
  // Configured order decides the reason: the first list that has the number, unless an earlier
  // list could not say (then `unconfirmed`: we cannot claim which list, but we block).
  for (let i = 0; i < hits.length; i++) {
    const m = memberships[i];
    if (m === 'member') return block((hits[i] as ListState).spec.name, e164);
    if (m === 'unconfirmed' || m === null || m === undefined) return block(Reason.UNCONFIRMED, e164);
  }
  return allow(e164);
}

export class Checker {
  readonly #registry: ListRegistry;
  readonly #remote: RemoteConfirmer | null;
  readonly #now: () => number;

  constructor(registry: ListRegistry, remote: RemoteConfirmer | null, now: () => number = Date.now) {
    this.#registry = registry;
    this.#remote = remote;
    this.#now = now;
  }

  /** A synchronous result, or the readings that still need Redis. */
  #start(raw: string, snap: GateSnapshot): CheckResult | PendingInput {
    const e164 = normalise(raw);
    if (e164 === null) return INVALID;
    const first = this.#startReading(e164, snap);
    const other = otherReading(raw); // null at once for all but 9 bare digits
    if (other === null) return 'verdict' in first ? first : { primary: e164, readings: [first] };
    // Two readings: allow only if both allow; a block of either decides (the primary's first).
    if ('verdict' in first && first.verdict === 'block') return first;
    const second = this.#startReading(other, snap);
    if ('verdict' in second) {
      if (second.verdict === 'block') return second;
      return 'verdict' in first ? first : { primary: e164, readings: [first] };
    }
    return { primary: e164, readings: 'verdict' in first ? [second] : [first, second] };
  }

  /** One reading: a synchronous result, or the hits that still need Redis. */
  #startReading(e164: string, snap: GateSnapshot): CheckResult | Pending {
    // Only the deny-lists are consulted here: an allow-list not loaded or stale does not block.
    if (!snap.scopes.deny.ready) return block(Reason.NOT_READY, e164);
    // A stale copy of a list cannot say whether any number is on it (each list's staleAt is
    // maxAgeDays after its source's own date).
    if (snap.scopes.deny.staleAt <= this.#now()) return block(Reason.STALE_LIST, e164);
    const key = e164ToKey(e164);
    let hits: ListSlot[] | null = null;
    for (const slot of snap.slots) {
      if (slot.spec.kind !== 'deny') continue;
      const state = slot.state as ListState;
      // Intraday additions are not in the filter (it cannot grow): they are a hit of their own.
      if (state.filter.has(key) || slot.intraday.has(key)) (hits ??= []).push(slot);
    }
    if (hits === null) return allow(e164);
    const known: (Membership | null)[] = new Array<Membership | null>(hits.length);
    let remote = false;
    for (let i = 0; i < hits.length; i++) {
      const slot = hits[i] as ListSlot;
      const members = (slot.state as ListState).members;
      if (members.where === 'memory') {
        const m: Membership = members.set.has(key) || slot.intraday.has(key) ? 'member' : 'absent';
        known[i] = m;
        // Earlier lists decided and this one has it: no need to ask anyone else.
        if (m === 'member' && !remote) return block(slot.spec.name, e164);
      } else if (slot.intraday.has(key)) {
        // This sidecar's copy of the day's additions counts on its own: Redis may have lost it (a wipe).
        known[i] = 'member';
        if (!remote) return block(slot.spec.name, e164);
      } else {
        known[i] = null;
        remote = true;
      }
    }
    if (!remote) return allow(e164);
    return { e164, hits: hits.map((h) => h.state as ListState), known };
  }

  async #finish(pending: readonly Pending[]): Promise<CheckResult[]> {
    const candidates: Candidate[] = [];
    for (const p of pending) {
      const key = e164ToKey(p.e164);
      p.hits.forEach((state, i) => {
        if (p.known[i] === null) candidates.push({ state, key });
      });
    }
    const answers: readonly Membership[] = this.#remote ? await this.#remote.confirm(candidates) : [];
    let next = 0;
    return pending.map((p) => {
      const merged = p.known.map((m) => m ?? answers[next++] ?? 'unconfirmed');
      return decide(p.e164, p.hits, merged);
    });
  }

  check(raw: string): CheckResult | Promise<CheckResult> {
    const r = this.#start(raw, this.#registry.current);
    if ('verdict' in r) return r;
    return this.#finish(r.readings).then((results) => combine(r, results));
  }

  /**
   * A batch, in request order. Works in slices and yields to the event loop between them so a
   * 10,000-number batch never stalls other connections; each slice's Redis hits go in one round trip.
   * Every slice reads the snapshot afresh: a swap mid-batch is fine, each number sees one generation.
   */
  async checkBatch(raws: readonly string[], sliceSize: number): Promise<CheckResult[]> {
    const out = new Array<CheckResult>(raws.length);
    for (let start = 0; start < raws.length; start += sliceSize) {
      if (start > 0) await yieldToEventLoop();
      const end = Math.min(raws.length, start + sliceSize);
      const snap = this.#registry.current;
      const inputs: PendingInput[] = [];
      const inputAt: number[] = [];
      const pending: Pending[] = [];
      for (let i = start; i < end; i++) {
        const r = this.#start(raws[i] as string, snap);
        if ('verdict' in r) out[i] = r;
        else {
          inputs.push(r);
          inputAt.push(i);
          pending.push(...r.readings);
        }
      }
      if (pending.length > 0) {
        const results = await this.#finish(pending);
        let next = 0;
        inputs.forEach((input, j) => {
          out[inputAt[j] as number] = combine(input, results.slice(next, next + input.readings.length));
          next += input.readings.length;
        });
      }
    }
    return out;
  }
}

