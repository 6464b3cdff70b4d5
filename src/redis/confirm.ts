/**
 * The hot path of Redis mode: confirm() (Bloom hits of the deny-lists) and decide() (the calling rules), the only
 * Redis calls a check waits for. Each is ONE script (lua/confirm.lua, lua/decide.lua) on the fast connection,
 * bounded by confirmTimeoutMs and by a cap on replies still owed.
 *
 * Fail-closed: neither ever throws. confirm() answers 'absent' only when Redis said so with the generation's
 * marker present; vanished keys (restart without persistence, eviction, a deleted generation), a timeout, a
 * disconnection, an error or a risk (redis/risk.ts) read 'unconfirmed', and the caller blocks.
 *
 * Calling rules (décret 2022-1313: at most 4 calls or attempts per consumer per 30 days, none for 60 days after a
 * refusal): decide() confirms the Bloom hits, reads the consumer's refusal and attempts, and counts a dial attempt
 * in ONE script, so racing dialers never exceed the cap.
 *
 * Both scripts go out as EVALSHA built here (connection.ts sendEvalsha), not through ioredis's defineCommand wrapper
 * (its argument copies and promise chain cost CPU on every check, issue 17); a NOSCRIPT answer (Redis lost its
 * script cache) is retried once as EVAL within the same deadline, as that wrapper did.
 */
import { randomBytes } from 'node:crypto';
import type { AllowAnswer } from '../rules/consent-terms.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { Membership } from '../check/verdict.js';
import { DAY_MS } from '../core/time.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { Deadlines } from './deadlines.js';
import { bucketIndexOf, bucketsOfPart, highOf, memberOf, validPlan } from './bucketing.js';
import type { BucketPlan } from './bucketing.js';
import { isNoScript, sendEval, sendEvalsha } from './connection.js';
import type { Client, Connection } from './connection.js';
import { addedKey, attemptsKeyBase, bucketKey, epochKey, markerKey, refusedKeyBase, revokedKey, termsKey } from './keys.js';
import type { Durability } from './durability.js';
import type { RiskWatch } from './risk.js';
import { scriptDigest, type ScriptDefinition } from './scripts.js';
import { DEFAULT_ATTEMPT_CAP, DEFAULT_ATTEMPT_WINDOW_MS } from './consumer-history.js';
import type { RuleWriteObserver } from './consumer-history.js';
import type { DecideFacts, DecideInput, DecideItem, DecideRole } from '../rules/facts.js';

/** The longest confirmation timeout: a check waits no longer than this for Redis (and a timer holds it). */
export const MAX_CONFIRM_TIMEOUT_MS = 10_000;

export interface ConfirmItem {
  readonly list: string;
  readonly generation: string;
  /** The generation marker's plan (GenerationMarker.buckets). */
  readonly buckets: BucketPlan;
  readonly key: NumberKey;
}

export interface ConfirmOptions {
  /** A confirm not answered within this reads 'unconfirmed' for all its items. @default 50 */
  readonly confirmTimeoutMs?: number | undefined;
  /** Confirms sent but not answered (even past their timeout) above which new ones read 'unconfirmed' unsent. @default 1000 */
  readonly maxConfirmsInFlight?: number | undefined;
}

/** A hot-path script: sent by its sha, its text kept for the NOSCRIPT retry. */
interface HotScript {
  readonly sha: string;
  readonly lua: string;
}

interface DecideKeys {
  readonly marker: string;
  /** bucketKey(…, '') : the bucket id is appended. */
  readonly bucketBase: string;
  readonly added: string;
  readonly revoked: string;
  readonly terms: string;
}

const ROLE_CODES: Readonly<Record<DecideRole, string>> = { deny: 'd', 'deny-contract': 'l', consent: 'c', contract: 'k', allow: 'a' };

export class Confirmer {
  readonly #connection: Connection;
  readonly #fast: Client;
  readonly #prefix: string;
  readonly #risk: RiskWatch;
  readonly #scripts: readonly ScriptDefinition[];
  readonly #confirmScript: HotScript;
  readonly #decideScript: HotScript;
  readonly #confirmTimeoutMs: number;
  /** The confirmTimeoutMs of every script in flight, on one timer rather than one per check. */
  readonly #deadlines: Deadlines;
  readonly #maxInFlight: number;
  readonly #generationKeyCache = new Map<string, DecideKeys>();
  // Per-consumer and fleet key names without the consumer, built once (decide() runs on every rules check).
  readonly #refusedBase: string;
  readonly #attemptsBase: string;
  readonly #epochKey: string;
  // Unique per attempt (two attempts in the same ms are two members): a random id and a counter, not a crypto
  // call per check (measured ~9 µs).
  readonly #attemptIdPrefix = `${randomBytes(6).toString('hex')}.`;
  #attemptSeq = 0;
  #inFlight = 0;
  /** The fleet epoch decide() requires ('' = none required). */
  #expectedEpoch = '';
  #ruleWrites: RuleWriteObserver | null = null;
  readonly #durability: Durability;

  constructor(connection: Connection, prefix: string, risk: RiskWatch, scripts: readonly ScriptDefinition[], options: ConfirmOptions, durability: Durability) {
    this.#connection = connection;
    this.#durability = durability;
    this.#fast = connection.fast;
    this.#prefix = prefix;
    this.#refusedBase = refusedKeyBase(prefix);
    this.#attemptsBase = attemptsKeyBase(prefix);
    this.#epochKey = epochKey(prefix);
    this.#risk = risk;
    this.#scripts = scripts;
    this.#confirmScript = hotScript(scripts, 'cgConfirm');
    this.#decideScript = hotScript(scripts, 'cgDecide');
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 50;
    this.#deadlines = new Deadlines(this.#confirmTimeoutMs);
    this.#maxInFlight = options.maxConfirmsInFlight ?? 1000;
  }

  /**
   * Checks every item in ONE round trip. Never throws. 'member' when the key is in the generation or in the
   * list's intraday additions; 'absent' only when Redis answered with the generation's marker present;
   * timeout, disconnection, any error or a vanished marker read 'unconfirmed'.
   */
  confirm(items: readonly ConfirmItem[]): Promise<Membership[]> {
    const n = items.length;
    if (n === 0) return Promise.resolve([]);
    const unconfirmed = (): Membership[] => new Array<Membership>(n).fill('unconfirmed');
    if (this.#connection.closed || this.#fast.status !== 'ready' || this.#inFlight >= this.#maxInFlight) {
      return Promise.resolve(unconfirmed());
    }
    if (this.#risk.active !== null) return Promise.resolve(unconfirmed());
    // EVALSHA's arguments: sha, numkeys, then confirm.lua's KEYS (3 per item) and ARGV (3 per item).
    const args: Array<string | number> = new Array<string | number>(6 * n + 2);
    args[0] = this.#confirmScript.sha;
    args[1] = 3 * n;
    for (let i = 0; i < n; i++) {
      const item = items[i] as ConfirmItem;
      const { key } = item;
      if (!Number.isSafeInteger(key) || key < 0 || !validPlan(item.buckets)) {
        return Promise.resolve(unconfirmed());
      }
      const k = this.#generationKeys(item.list, item.generation);
      const member = memberOf(key);
      const high = highOf(key);
      const buckets = bucketsOfPart(item.buckets, high);
      const at = 2 + 3 * i;
      args[at] = k.marker;
      args[at + 1] = buckets === 0 ? k.marker : `${k.bucketBase}${high}.${bucketIndexOf(member, buckets)}`;
      args[at + 2] = k.added;
      args[at + 3 * n] = member;
      // A safe integer prints as its plain decimal digits, the intraday ZSET's member.
      args[at + 3 * n + 1] = String(key);
      args[at + 3 * n + 2] = bucketMode(item.buckets, buckets);
    }
    return this.#bounded(this.#confirmScript, args, (reply) => parseConfirmReply(reply, n), unconfirmed);
  }

  /**
   * The calling-rules check in ONE round trip and one atomic script: confirms the items as confirm() does, reads
   * the consumer's refusal and attempts within the window (dropping older ones), and, when `dial` is set and
   * nothing blocks (no deny item 'member' or 'unconfirmed' unless lifted by a contract, not jsBlocked, no running
   * refusal, consent or contract 'member' when required, attempts below the cap), records this attempt.
   * The caller may dial only when `counted` is true: a pure policy evaluated on these facts agrees with it, and
   * anything else (timeout, error) reads counted false. Never throws: bad input, timeout, disconnection or an error
   * answer every item 'unconfirmed' with answered false. A timed-out script may still have counted an attempt
   * (the quota is then used without a call: the safe side).
   *
   * A counted attempt is answered only once a replica holds it (redis/durability.ts, when waiting is on). When none
   * is seen within the wait, the verdict stands (the attempt IS counted on the master and in this sidecar's copy,
   * the fail-closed side of a quota) and the observer is told, to re-publish it: see docs/redis-mode.md.
   */
  decide(input: DecideInput): Promise<DecideFacts> {
    const { items, key } = input;
    const n = items.length;
    const failed = (): DecideFacts => failedFacts(n);
    const cap = input.cap === undefined ? DEFAULT_ATTEMPT_CAP : input.cap;
    const windowMs = input.windowMs ?? DEFAULT_ATTEMPT_WINDOW_MS;
    if (
      this.#connection.closed ||
      this.#fast.status !== 'ready' ||
      this.#inFlight >= this.#maxInFlight ||
      !Number.isSafeInteger(key) ||
      key <= 0 ||
      (cap !== null && (!Number.isSafeInteger(cap) || cap < 0)) ||
      !Number.isSafeInteger(windowMs) ||
      windowMs < 1 ||
      this.#risk.active !== null
    ) {
      return Promise.resolve(failed());
    }
    // EVALSHA's arguments: sha and numkeys, then from K on decide.lua's KEYS then ARGV in one array (its header
    // gives the layout): 5 keys and 4 arguments per item.
    const nKeys = 5 * n + 3;
    const K = 2;
    const argv = new Array<string | number>(K + nKeys + 4 * n + 8);
    argv[0] = this.#decideScript.sha;
    argv[1] = nKeys;
    const suffix = `${this.#attemptIdPrefix}${(this.#attemptSeq = (this.#attemptSeq + 1) % Number.MAX_SAFE_INTEGER).toString(36)}`;
    // The key was checked above (a positive safe integer), as refusedKey() would check it.
    argv[K] = `${this.#refusedBase}${key}`;
    argv[K + 1] = `${this.#attemptsBase}${key}`;
    argv[K + nKeys - 1] = this.#epochKey;
    argv[K + nKeys] = input.dial ? '1' : '0';
    argv[K + nKeys + 1] = input.requireConsent ? '1' : '0';
    argv[K + nKeys + 2] = input.jsBlocked ? '1' : '0';
    argv[K + nKeys + 3] = cap === null ? '' : cap;
    argv[K + nKeys + 4] = windowMs;
    argv[K + nKeys + 5] = input.refusals === false ? '0' : '1';
    argv[K + nKeys + 6] = suffix;
    for (let i = 0; i < n; i++) {
      const item = items[i] as DecideItem;
      const role = ROLE_CODES[item.role] as string | undefined;
      if (!Number.isSafeInteger(item.key) || item.key < 0 || !validPlan(item.buckets) || role === undefined) {
        return Promise.resolve(failed());
      }
      const member = memberOf(item.key);
      const high = highOf(item.key);
      const buckets = bucketsOfPart(item.buckets, high);
      const k = this.#generationKeys(item.list, item.generation);
      const at = K + 5 * i + 2;
      argv[at] = k.marker;
      argv[at + 1] = buckets === 0 ? k.marker : `${k.bucketBase}${high}.${bucketIndexOf(member, buckets)}`;
      argv[at + 2] = k.added;
      argv[at + 3] = k.revoked;
      argv[at + 4] = k.terms;
      const a = K + nKeys + 7 + 4 * i;
      argv[a] = member;
      argv[a + 1] = String(item.key);
      argv[a + 2] = role;
      argv[a + 3] = bucketMode(item.buckets, buckets);
    }
    argv[argv.length - 1] = this.#expectedEpoch;
    const observer = this.#ruleWrites;
    const mark = this.#durability.mark();
    const decided = this.#bounded(
      this.#decideScript,
      argv,
      (reply) => {
        const facts = parseDecideReply(reply, n);
        if (facts === null) return failed();
        if (facts.counted) observer?.attempt(key, facts.now, `${facts.now}-${suffix}`);
        return facts;
      },
      failed,
    );
    if (!this.#durability.enabled || !input.dial) return decided;
    return decided.then(async (facts) => {
      if (!facts.counted) return facts;
      if (!(await this.#durability.replicated(mark))) observer?.unreplicated?.({ kind: 'attempt', key, at: facts.now, member: `${facts.now}-${suffix}` }, mark);
      return facts;
    });
  }

  /**
   * The epoch decide() requires; null requires none. While Redis holds another (or none), decide() answers
   * nothing (the check blocks): set by a sidecar that knows the fleet's epoch, until it has re-published its copy.
   */
  expectEpoch(epoch: string | null): void {
    this.#expectedEpoch = epoch ?? '';
  }

  /** Who is told of the attempts decide() counts (null: nobody). */
  observeAttempts(observer: RuleWriteObserver | null): void {
    this.#ruleWrites = observer;
  }

  /**
   * Loads every script into Redis (SCRIPT LOAD) and runs the rules script once on a key no consumer has,
   * read-only: cold scripts and connections made the first checks after a start miss their budget and
   * answer 'unconfirmed'. True when Redis answered within the budget.
   */
  async warmUp(): Promise<boolean> {
    try {
      for (const { lua } of this.#scripts) await this.#fast.script('LOAD', lua);
    } catch {
      return false;
    }
    const facts = await this.decide({ key: 1, items: [], dial: false, requireConsent: false, jsBlocked: true, cap: null, windowMs: DAY_MS, refusals: false });
    return facts.answered;
  }

  /**
   * Sends one script on the confirm connection (EVALSHA; on NOSCRIPT once more as EVAL, which caches it again) and
   * settles within confirmTimeoutMs, never rejecting: a timeout, a send failure or an error reply resolves to
   * fallback(). The in-flight count covers replies still owed. `args` is sendEvalsha's: [sha, numkeys, ...].
   */
  #bounded<T>(script: HotScript, args: Array<string | number>, parse: (reply: unknown) => T, fallback: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      let settled = false;
      let retried = false;
      const timer = this.#deadlines.add(() => {
        settled = true;
        resolve(fallback());
      });
      this.#inFlight++;
      const answered = (reply: unknown): void => {
        this.#inFlight--;
        if (settled) return;
        settled = true;
        timer.cancelled = true;
        // A parse (or the observer it tells) that throws must not leave the check hanging: it reads as failed.
        let parsed: T;
        try {
          parsed = parse(reply);
        } catch {
          parsed = fallback();
        }
        resolve(parsed);
      };
      const failed = (err: unknown): void => {
        // NOSCRIPT: the script did not run (Redis restarted, flushed its script cache, or a replica was promoted):
        // sent once more with its text, within the same deadline; any other error, or a second one, fails.
        if (!retried && !settled && isNoScript(err)) {
          retried = true;
          let again: Promise<unknown>;
          try {
            again = sendEval(this.#fast, script.lua, args);
          } catch (e) {
            failed(e);
            return;
          }
          again.then(answered, failed);
          return;
        }
        this.#inFlight--;
        if (settled) return;
        settled = true;
        timer.cancelled = true;
        resolve(fallback());
      };
      let sent: Promise<unknown>;
      try {
        sent = sendEvalsha(this.#fast, args);
      } catch (err) {
        failed(err);
        return;
      }
      sent.then(answered, failed);
    });
  }

  /** The per-generation keys of a confirm() or decide() item, built once per generation rather than on every check. */
  #generationKeys(list: string, generation: string): DecideKeys {
    const id = `${list}\u0000${generation}`;
    let k = this.#generationKeyCache.get(id);
    if (k === undefined) {
      // Generations change nightly: a small cache, emptied when it fills, never grows.
      if (this.#generationKeyCache.size >= 64) this.#generationKeyCache.clear();
      k = {
        marker: markerKey(this.#prefix, list, generation),
        bucketBase: bucketKey(this.#prefix, list, generation, ''),
        added: addedKey(this.#prefix, list),
        revoked: revokedKey(this.#prefix, list),
        terms: termsKey(this.#prefix, list, generation),
      };
      this.#generationKeyCache.set(id, k);
    }
    return k;
  }
}

/** The sha (as Redis's script cache names it) and text of a hot-path script; throws when it is missing (a broken build). */
function hotScript(scripts: readonly ScriptDefinition[], command: 'cgConfirm' | 'cgDecide'): HotScript {
  const lua = scripts.find((s) => s.command === command)?.lua;
  if (lua === undefined) throw new CallgateError(ErrorCode.CONFIG, `Redis script ${command} is missing`);
  return { sha: scriptDigest(lua), lua };
}

/** The scripts' bucket mode of an item: 'n' no bucket, 'e' the bucket must exist (layout 2), 'o' it may not. */
function bucketMode(plan: BucketPlan, buckets: number): string {
  return buckets === 0 ? 'n' : typeof plan === 'number' ? 'o' : 'e';
}

function parseConfirmReply(reply: unknown, n: number): Membership[] {
  const out = new Array<Membership>(n).fill('unconfirmed');
  if (!Array.isArray(reply) || reply.length !== n) return out;
  for (let i = 0; i < n; i++) {
    const v: unknown = reply[i];
    out[i] = v === 1 ? 'member' : v === 0 ? 'absent' : 'unconfirmed';
  }
  return out;
}

/** What decide() answers when Redis did not: every item unconfirmed, nothing counted (the caller blocks). */
function failedFacts(n: number): DecideFacts {
  return {
    memberships: new Array<AllowAnswer>(n).fill('unconfirmed'),
    terms: new Array<string | null>(n).fill(null),
    refusedUntil: null,
    refusedAt: null,
    attempts: 0,
    oldestAttemptAt: null,
    counted: false,
    now: Date.now(),
    answered: false,
  };
}

/** decide.lua's answer codes; undefined for anything else (the reply is then malformed). */
function answerOf(v: unknown): AllowAnswer | undefined {
  switch (v) {
    case 1:
      return 'member';
    case 0:
      return 'absent';
    case -1:
      return 'unconfirmed';
    case 2:
      return 'revoked';
    case 3:
      return 'expired';
    default:
      return undefined;
  }
}

/** An integer of the reply, NaN when it is not one (the reply is then malformed). */
function int(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : Number.NaN;
}

/** decide.lua's reply; null when malformed (read as not answered). Read in place: no copies of the reply. */
function parseDecideReply(reply: unknown, n: number): DecideFacts | null {
  if (!Array.isArray(reply) || reply.length !== 6 + 2 * n) return null;
  const all = reply as unknown[];
  const now = int(all[0]);
  const refusedAt = int(all[1]);
  const refusedUntil = int(all[2]);
  const attempts = int(all[3]);
  const oldest = int(all[4]);
  const counted = int(all[5]);
  if (Number.isNaN(now) || Number.isNaN(refusedAt) || Number.isNaN(refusedUntil) || Number.isNaN(attempts) || Number.isNaN(oldest) || Number.isNaN(counted)) return null;
  const memberships = new Array<AllowAnswer>(n);
  const terms = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const a = answerOf(all[6 + i]);
    const tv = all[6 + n + i];
    if (a === undefined || typeof tv !== 'string') return null;
    memberships[i] = a;
    terms[i] = tv === '' ? null : tv;
  }
  return {
    memberships,
    terms,
    refusedUntil: refusedUntil < 0 ? null : refusedUntil,
    refusedAt: refusedAt < 0 ? null : refusedAt,
    attempts,
    oldestAttemptAt: oldest < 0 ? null : oldest,
    counted: counted === 1,
    now,
    answered: true,
  };
}
