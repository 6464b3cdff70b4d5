/**
 * Conformance of the RulesFacts port (rules/facts.ts): ONE table of cases run against both implementations —
 * MemoryRulesFacts (embedded mode: every generation in memory) and RedisRulesFacts (rules/facts-redis.ts over the
 * real decide script, on the shared Redis: CALLGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379, unique prefix
 * per run, deleted after; fails loudly when Redis is absent). Both worlds hold the same lists, terms, intraday
 * additions and revocations (the generations written with the store's real API, the memory overlays given
 * Redis's own revocation times), so any answer that differs is a rule written twice that drifted apart.
 * Per-consumer state (refusals, attempts) is kept only in Redis mode (rules-config.ts refuses such a policy
 * without Redis); the memory implementation must then answer "none, nothing counted", which the rules check
 * turns into a block for a capped dial: those cases say so per implementation.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllowAnswer } from '../../src/rules/consent-terms.js';
import { encodeTerms } from '../../src/rules/consent-terms.js';
import { MemoryRulesFacts, type DecideFacts, type DecideRole, type FactsHit, type FactsQuery, type RulesFacts } from '../../src/rules/facts.js';
import { RedisRulesFacts } from '../../src/rules/facts-redis.js';
import { EmbeddedOutcomes, type OutcomeRecorder } from '../../src/backends/list-backend.js';
import type { ListSpec, RefreshPolicy } from '../../src/config/list-spec.js';
import { IntradayAdditions } from '../../src/lists/intraday.js';
import { ExactSet } from '../../src/lists/exact-set.js';
import { NumberFilter } from '../../src/lists/bloom.js';
import { ListRegistry, type ListSlot, type ListState, type Members } from '../../src/lists/registry.js';
import { RulesChecker } from '../../src/rules/rules-check.js';
import { FR_OPTIN_POLICY } from '../../src/rules/policy.js';
import type { CheckResult } from '../../src/check/verdict.js';
import type { NumberKey } from '../../src/numbers/number-key.js';
import { RedisStore } from '../../src/redis/store.js';
import { DAY_MS } from '../../src/core/time.js';
import { redisCli } from '../helpers/redis-server.js';

const URL = process.env['CALLGATE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PREFIX = `cgtest:${randomBytes(6).toString('hex')}:`;
const FINGERPRINT = 'f'.repeat(64);
const REFRESH: RefreshPolicy = { cron: '0 3 * * *', timezone: 'Europe/Paris', maxAgeDays: 30, warnDays: 3, maxShrinkRatio: 0.5, maxBadLineRatio: 0.01 };

// Consumers: fresh numbers per run, so counters never leak between runs or tests.
let nextKey = 33_700_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
const fresh = (): NumberKey => nextKey++;

const denied = fresh();
const intradayDenied = fresh();
const bloctelCustomer = fresh();
const consenting = fresh();
const expiredConsent = fresh();
const revokedConsent = fresh();
const regranted = fresh();
const bareConsent = fresh();
const customer = fresh();
const nobody = fresh();
// Whole checks (RulesChecker over each implementation): French mobiles, and one input with two readings
// (numbers/normalise.ts rule 9): 687751234 is +33687751234 (consented) and +687751234 (New Caledonia, deny-listed).
const MOBILE_DENIED = 33_612_340_001;
const MOBILE_CONSENTING = 33_612_340_002;
const MOBILE_REVOKED = 33_612_340_003;
const FRENCH_READING = 33_687_751_234;
const CALEDONIAN_READING = 687_751_234;
// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

interface ListDef {
  readonly spec: ListSpec;
  readonly keys: readonly NumberKey[];
  readonly terms?: ReadonlyMap<NumberKey, string>;
}

const spec = (name: string, kind: 'deny' | 'allow', role: 'consent' | 'contract' | null = null): ListSpec => ({ name, kind, role, source: null, falsePositiveRate: 0.001, refresh: REFRESH });
const NOW = Date.now();
const LISTS: readonly ListDef[] = [
  { spec: spec('optout', 'deny'), keys: [denied, MOBILE_DENIED] },
  { spec: spec('bloctel', 'deny'), keys: [bloctelCustomer, CALEDONIAN_READING] },
  {
    spec: spec('consent', 'allow', 'consent'),
    keys: [consenting, expiredConsent, revokedConsent, regranted, bareConsent, MOBILE_DENIED, MOBILE_CONSENTING, MOBILE_REVOKED, FRENCH_READING],
    terms: new Map([
      [MOBILE_CONSENTING, encodeTerms({ consentedAt: NOW - 30 * DAY_MS, source: 'web', proof: 'p-4', expiresAt: null })],
      [MOBILE_REVOKED, encodeTerms({ consentedAt: NOW - 30 * DAY_MS, source: 'web', proof: 'p-5', expiresAt: null })],
      [consenting, encodeTerms({ consentedAt: NOW - 30 * DAY_MS, source: 'web:form-3', proof: 'p-1', expiresAt: NOW + 300 * DAY_MS })],
      [expiredConsent, encodeTerms({ consentedAt: NOW - 400 * DAY_MS, source: 'web', proof: '', expiresAt: NOW - 30 * DAY_MS })],
      [revokedConsent, encodeTerms({ consentedAt: NOW - 10 * DAY_MS, source: 'call', proof: 'p-2', expiresAt: null })],
      [regranted, encodeTerms({ consentedAt: NOW - 10 * DAY_MS, source: 'call', proof: 'p-3', expiresAt: null })],
    ]),
  },
  { spec: spec('customers', 'allow', 'contract'), keys: [customer, bloctelCustomer] },
];

/** One implementation with its own copy of the lists; the cases only name lists and numbers. */
interface World {
  readonly name: 'memory' | 'redis';
  readonly facts: RulesFacts;
  /** Where this mode keeps call outcomes (backends/list-backend.ts). */
  readonly outcomes: OutcomeRecorder;
  /** Whether refusals and attempts are kept (Redis mode only). */
  readonly keepsConsumerState: boolean;
  slot(list: string): ListSlot;
  /** The same lists as a registry, for whole checks. */
  readonly registry: ListRegistry;
  /** A slot of `list` whose exact members can no longer be read (memory: not held here; Redis: its keys are gone). */
  goneSlot(list: string): ListSlot;
}

function stateOf(def: ListDef, members: Members): ListState {
  const filter = NumberFilter.create(Math.max(def.keys.length, 1), 0.001);
  for (const k of def.keys) filter.add(k);
  return { spec: def.spec, generation: members.where === 'redis' ? members.generation : 'memory-1', filter, members, count: def.keys.length, loadedAt: new Date(NOW), sourceDate: null, fingerprint: FINGERPRINT, normaliserVersion: 'v1' };
}

const slotOf = (def: ListDef, state: ListState, intraday: IntradayAdditions): ListSlot => ({ spec: def.spec, state, intraday, staleAt: Number.POSITIVE_INFINITY });
const defOf = (list: string): ListDef => LISTS.find((l) => l.spec.name === list) as ListDef;

/** A query with no policy rule but the ones a case sets. */
function query(key: NumberKey, hits: readonly FactsHit[], extra: Partial<FactsQuery> = {}): FactsQuery {
  return { key, hits, dial: false, requireConsent: false, jsBlocked: false, cap: null, windowMs: 30 * DAY_MS, refusals: true, now: Date.now(), ...extra };
}

interface MembershipCase {
  readonly title: string;
  readonly key: NumberKey;
  /** Bloom hits: [list, role]; 'gone' reads a slot whose members cannot be read. */
  readonly hits: ReadonlyArray<readonly [string, DecideRole] | readonly [string, DecideRole, 'gone']>;
  readonly memberships: readonly AllowAnswer[];
  /** Per hit: whether stored consent terms come back. */
  readonly terms?: readonly boolean[];
}

/** THE table: each case runs unchanged against every implementation. */
const MEMBERSHIP_CASES: readonly MembershipCase[] = [
  { title: 'deny-list hit', key: denied, hits: [['optout', 'deny']], memberships: ['member'] },
  { title: 'deny-list miss (a Bloom false positive)', key: nobody, hits: [['optout', 'deny']], memberships: ['absent'] },
  { title: 'deny-list addition of the day', key: intradayDenied, hits: [['optout', 'deny']], memberships: ['member'] },
  { title: 'consent valid, with its terms', key: consenting, hits: [['consent', 'consent']], memberships: ['member'], terms: [true] },
  { title: 'consent expired', key: expiredConsent, hits: [['consent', 'consent']], memberships: ['expired'], terms: [true] },
  { title: 'consent revoked during the day', key: revokedConsent, hits: [['consent', 'consent']], memberships: ['revoked'], terms: [true] },
  { title: 'consent revoked, then granted again during the day', key: regranted, hits: [['consent', 'consent']], memberships: ['member'] },
  { title: 'consent listed without terms', key: bareConsent, hits: [['consent', 'consent']], memberships: ['member'], terms: [false] },
  { title: 'no consent (a Bloom false positive on the consent list)', key: nobody, hits: [['consent', 'consent']], memberships: ['absent'], terms: [false] },
  { title: 'contract', key: customer, hits: [['customers', 'contract']], memberships: ['member'] },
  {
    title: 'a contract-exception deny-list and a contract, in hit order',
    key: bloctelCustomer,
    hits: [
      ['bloctel', 'deny-contract'],
      ['customers', 'contract'],
    ],
    memberships: ['member', 'member'],
  },
  { title: 'unconfirmed when a deny-list generation cannot be read', key: denied, hits: [['optout', 'deny', 'gone']], memberships: ['unconfirmed'] },
  { title: 'unconfirmed when a consent generation cannot be read', key: consenting, hits: [['consent', 'consent', 'gone']], memberships: ['unconfirmed'] },
  {
    title: 'one unreadable hit among readable ones',
    key: customer,
    hits: [
      ['optout', 'deny'],
      ['consent', 'consent', 'gone'],
      ['customers', 'contract'],
    ],
    memberships: ['absent', 'unconfirmed', 'member'],
  },
];

describe('RulesFacts conformance: memory and Redis answer the same', () => {
  let store: RedisStore;
  const worlds: World[] = [];
  /** Redis's answers per list, as the unconfirmed_rate alert counts them. */
  const counted: Array<[string, string]> = [];

  beforeAll(async () => {
    // No skip: an absent Redis fails the suite here with CALLGATE_ERR_REDIS.
    store = await RedisStore.connect({ url: URL, prefix: PREFIX, connectTimeoutMs: 5000, confirmTimeoutMs: 2000 });
    const redisStates = new Map<string, ListState>();
    const goneStates = new Map<string, ListState>();
    for (const def of LISTS) {
      const marker = await store.generations.writeGeneration({
        list: def.spec.name,
        kind: def.spec.kind,
        keys: Float64Array.from([...def.keys].sort((a, b) => a - b)),
        filter: Buffer.from('filter'),
        normaliserVersion: 'v1',
        hashId: 'h',
        fingerprint: FINGERPRINT,
        ...(def.terms === undefined ? {} : { terms: def.terms }),
      });
      await store.generations.switchCurrent(def.spec.name, marker.generation);
      redisStates.set(def.spec.name, stateOf(def, { where: 'redis', generation: marker.generation, buckets: marker.buckets }));
      // A generation whose keys are gone: written, then deleted (as after an eviction or a wipe).
      const lost = await store.generations.writeGeneration({ list: def.spec.name, kind: def.spec.kind, keys: Float64Array.from([...def.keys].sort((a, b) => a - b)), filter: Buffer.from('filter'), normaliserVersion: 'v1', hashId: 'h', fingerprint: FINGERPRINT });
      await store.generations.deleteGeneration(def.spec.name, lost.generation);
      goneStates.set(def.spec.name, stateOf(def, { where: 'redis', generation: lost.generation, buckets: lost.buckets }));
    }
    // The day's changes, in Redis; the overlays (one per list, shared by both worlds as a sidecar's are) get the
    // same changes at Redis's own times.
    await store.intraday.addIntraday('optout', [intradayDenied], { who: 'test' });
    await store.intraday.removeIntraday('consent', [revokedConsent, regranted, MOBILE_REVOKED], { who: 'test', revocable: true });
    await store.intraday.addIntraday('consent', [regranted], { who: 'test', revocable: true });
    const overlays = new Map(LISTS.map((d) => [d.spec.name, new IntradayAdditions(d.spec.kind === 'allow')]));
    const redisNow = await store.connection.now();
    const revocations = await store.intraday.revocations('consent');
    const replay = (overlayOf: (list: string) => IntradayAdditions): void => {
      overlayOf('optout').add(intradayDenied, redisNow);
      for (const [key, at] of revocations) overlayOf('consent').remove(key, at);
      overlayOf('consent').add(regranted, redisNow + 1);
    };
    replay((list) => overlays.get(list) as IntradayAdditions);
    const registryOf = (states: ReadonlyMap<string, ListState>): ListRegistry => {
      const registry = new ListRegistry(LISTS.map((d) => d.spec));
      for (const def of LISTS) registry.install(states.get(def.spec.name) as ListState);
      replay((list) => (registry.slot(list) as ListSlot).intraday);
      return registry;
    };

    const memoryStates = new Map(LISTS.map((d) => [d.spec.name, stateOf(d, { where: 'memory', set: ExactSet.build(Float64Array.from(d.keys)).set, terms: d.terms ?? null })]));
    const overlay = (list: string): IntradayAdditions => overlays.get(list) as IntradayAdditions;
    worlds.push({
      name: 'memory',
      facts: new MemoryRulesFacts(),
      outcomes: new EmbeddedOutcomes(),
      keepsConsumerState: false,
      registry: registryOf(memoryStates),
      slot: (list) => slotOf(defOf(list), memoryStates.get(list) as ListState, overlay(list)),
      // Memory holds every generation it serves: one whose members are not here is the unreadable kind.
      goneSlot: (list) => slotOf(defOf(list), redisStates.get(list) as ListState, overlay(list)),
    });
    worlds.push({
      name: 'redis',
      facts: new RedisRulesFacts({ script: store.confirmer, confirms: { record: (list, answer) => counted.push([list, answer]) }, local: null }),
      outcomes: store.history,
      keepsConsumerState: true,
      registry: registryOf(redisStates),
      slot: (list) => slotOf(defOf(list), redisStates.get(list) as ListState, overlay(list)),
      goneSlot: (list) => slotOf(defOf(list), goneStates.get(list) as ListState, overlay(list)),
    });
  });

  afterAll(async () => {
    const found = await redisCli(URL, ['--scan', '--pattern', `${PREFIX}*`]);
    const all = found.split('\n').filter((k) => k.length > 0);
    for (let i = 0; i < all.length; i += 500) await redisCli(URL, ['UNLINK', ...all.slice(i, i + 500)]);
    await store?.close();
  });

  const hitsOf = (w: World, c: MembershipCase): FactsHit[] => c.hits.map(([list, role, gone]) => ({ slot: gone === 'gone' ? w.goneSlot(list) : w.slot(list), key: c.key, role }));

  for (const c of MEMBERSHIP_CASES) {
    it(`memberships: ${c.title}`, async () => {
      for (const w of worlds) {
        const facts = await w.facts.decide(query(c.key, hitsOf(w, c)));
        expect({ world: w.name, answered: facts.answered, memberships: facts.memberships }).toEqual({ world: w.name, answered: true, memberships: c.memberships });
        const terms = c.terms ?? c.hits.map(() => false);
        expect({ world: w.name, terms: facts.terms.map((t) => t !== null) }).toEqual({ world: w.name, terms });
        facts.terms.forEach((t, i) => {
          if (t !== null) expect(t).toBe(defOf(c.hits[i]?.[0] as string).terms?.get(c.key));
        });
      }
    });
  }

  it('the same answers for random terms, revocations and grants (property: the Lua and TypeScript rules agree)', async () => {
    const def: ListDef = { spec: spec('terms', 'allow', 'consent'), keys: [] };
    const now = await store.connection.now();
    const around = fc.option(fc.integer({ min: now - 10 * DAY_MS, max: now + 10 * DAY_MS }), { nil: null });
    const cases = fc.sample(fc.record({ consentedAt: around, expiresAt: around, revoke: fc.boolean(), bare: fc.boolean(), listed: fc.boolean() }), 120);
    const keys = cases.map(() => fresh());
    const terms = new Map<NumberKey, string>();
    cases.forEach((c, i) => {
      if (!c.bare) terms.set(keys[i] as NumberKey, encodeTerms({ consentedAt: c.consentedAt, source: `s${i}`, proof: `p${i}`, expiresAt: c.expiresAt }));
    });
    const listed = keys.filter((_, i) => cases[i]?.listed === true);
    const sorted = Float64Array.from([...listed].sort((a, b) => a - b));
    const listedTerms = new Map([...terms].filter(([k]) => listed.includes(k)));
    const marker = await store.generations.writeGeneration({ list: 'terms', kind: 'allow', keys: sorted, filter: Buffer.from('f'), normaliserVersion: 'v1', hashId: 'h', fingerprint: FINGERPRINT, terms: listedTerms });
    await store.generations.switchCurrent('terms', marker.generation);
    const revoked = keys.filter((_, i) => cases[i]?.revoke === true);
    if (revoked.length > 0) await store.intraday.removeIntraday('terms', revoked, { who: 'test', revocable: true });
    const overlay = new IntradayAdditions(true);
    for (const [key, at] of await store.intraday.revocations('terms')) overlay.remove(key, at);
    const full: ListDef = { ...def, keys: listed, terms: listedTerms };
    const memory = slotOf(full, stateOf(full, { where: 'memory', set: ExactSet.build(sorted).set, terms: listedTerms }), overlay);
    const redis = slotOf(full, stateOf(full, { where: 'redis', generation: marker.generation, buckets: marker.buckets }), overlay);
    const [m, r] = [worlds.find((w) => w.name === 'memory') as World, worlds.find((w) => w.name === 'redis') as World];
    for (const key of keys) {
      const fromRedis = await r.facts.decide(query(key, [{ slot: redis, key, role: 'consent' }], { requireConsent: true }));
      // The memory rule on Redis's clock: expiry instants are compared with the same now.
      const fromMemory = await m.facts.decide(query(key, [{ slot: memory, key, role: 'consent' }], { requireConsent: true, now: fromRedis.now }));
      expect({ key, answer: fromMemory.memberships[0], terms: fromMemory.terms[0] }).toEqual({ key, answer: fromRedis.memberships[0], terms: fromRedis.terms[0] });
    }
  });

  describe('consumer state (refusals, attempts): kept in Redis mode only', () => {
    const capped = (w: World, key: NumberKey, extra: Partial<FactsQuery> = {}): Promise<DecideFacts> =>
      w.facts.decide(query(key, [{ slot: w.slot('optout'), key, role: 'deny' }], { dial: true, cap: 4, ...extra }));

    it('attempts: four counted within the window, the fifth refused at the cap', async () => {
      for (const w of worlds) {
        const key = fresh();
        const seen: Array<{ counted: boolean; attempts: number }> = [];
        for (let i = 0; i < 5; i++) {
          const f = await capped(w, key);
          seen.push({ counted: f.counted, attempts: f.attempts });
        }
        const expected = w.keepsConsumerState
          ? [0, 1, 2, 3, 4].map((n) => ({ counted: n < 4, attempts: n }))
          : // Nothing counted, ever: the rules check then blocks a capped dial as unconfirmed (fail-closed).
            [0, 1, 2, 3, 4].map(() => ({ counted: false, attempts: 0 }));
        expect({ world: w.name, seen }).toEqual({ world: w.name, seen: expected });
      }
    });

    it('a refusal recorded through the mode\'s OutcomeRecorder runs and stops counting; a deny-list member is never counted', async () => {
      for (const w of worlds) {
        const key = fresh();
        await w.outcomes.recordOutcome(key, 'refused', { refusalDays: 60 });
        const f = await capped(w, key);
        if (w.keepsConsumerState) {
          expect(f.refusedUntil).toBeGreaterThan(f.now);
          expect(f.refusedAt).not.toBeNull();
        } else {
          expect({ refusedUntil: f.refusedUntil, refusedAt: f.refusedAt }).toEqual({ refusedUntil: null, refusedAt: null });
        }
        expect({ world: w.name, counted: f.counted }).toEqual({ world: w.name, counted: false });
        const member = await capped(w, denied);
        expect({ world: w.name, membership: member.memberships[0], counted: member.counted }).toEqual({ world: w.name, membership: 'member', counted: false });
      }
    });

    it('a check the rules in JS block counts nothing', async () => {
      for (const w of worlds) {
        const key = fresh();
        const f = await capped(w, key, { jsBlocked: true });
        expect({ world: w.name, counted: f.counted, memberships: f.memberships }).toEqual({ world: w.name, counted: false, memberships: ['absent'] });
      }
    });
  });

  describe('whole checks under fr-optin (RulesChecker over each implementation, the same snapshot of lists)', () => {
    const CHECKS: ReadonlyArray<{ readonly title: string; readonly input: string; readonly verdict: 'allow' | 'block'; readonly reason: string }> = [
      { title: 'consent valid', input: '0612340002', verdict: 'allow', reason: 'consent' },
      { title: 'deny-listed though consenting', input: '0612340001', verdict: 'block', reason: 'optout' },
      { title: 'consent revoked', input: '0612340003', verdict: 'block', reason: 'no_consent' },
      { title: 'no consent', input: '0612340009', verdict: 'block', reason: 'no_consent' },
      { title: 'two readings: the French one consented, the other deny-listed', input: '687751234', verdict: 'block', reason: 'bloctel' },
    ];
    const checkers = (): Array<{ world: string; checker: RulesChecker }> =>
      worlds.map((w) => ({ world: w.name, checker: new RulesChecker({ registry: w.registry, facts: w.facts, foreignTimezone: 'Europe/Paris', now: () => TUESDAY_11H }) }));

    for (const c of CHECKS) {
      it(`${c.title}: ${c.input}`, async () => {
        const results: CheckResult[] = [];
        for (const { world, checker } of checkers()) {
          const r = await checker.check({ raw: c.input, campaign: { policy: FR_OPTIN_POLICY, sector: null }, dial: false });
          expect({ world, verdict: r.verdict, reason: r.reason }).toEqual({ world, verdict: c.verdict, reason: c.reason });
          results.push(r);
        }
        // Everything else too (number, consent evidence): the same reply whichever mode answered.
        expect(results[1]).toEqual(results[0]);
      });
    }
  });

  it('Redis answers are counted per list for the unconfirmed_rate alert', async () => {
    const r = worlds.find((w) => w.name === 'redis') as World;
    counted.length = 0;
    await r.facts.decide(query(customer, [{ slot: r.slot('optout'), key: customer, role: 'deny' }, { slot: r.goneSlot('customers'), key: customer, role: 'contract' }]));
    expect(counted).toEqual([
      ['optout', 'absent'],
      ['customers', 'unconfirmed'],
    ]);
  });
});
