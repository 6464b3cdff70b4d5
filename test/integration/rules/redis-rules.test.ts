/**
 * RedisStore's calling rules (decide, recordOutcome, attemptsOf) against the real shared Redis
 * (CALLGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379, unique prefix per run, deleted after; fails loudly when
 * Redis is absent) and against a private redis-server frozen with SIGSTOP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/redis/store.js';
import type { ConfirmItem } from '../../../src/redis/confirm.js';
import type { DecideInput, DecideItem, DecideRole } from '../../../src/rules/facts.js';
import type { GenerationMarker } from '../../../src/redis/codecs.js';
import type { ListKind } from '../../../src/config/list-spec.js';
import { attemptsKey, refusalTtlMs, refusedKey, termsKey } from '../../../src/redis/keys.js';
import { encodeTerms, judgeAllowEntry } from '../../../src/rules/consent-terms.js';
import fc from 'fast-check';
import { isCallgateError } from '../../../src/core/errors.js';
import { redisCli, startPrivateRedis } from '../../helpers/redis-server.js';
import type { PrivateRedis } from '../../helpers/redis-server.js';

const URL = process.env['CALLGATE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PREFIX = `cgtest:${randomBytes(6).toString('hex')}:`;
const FINGERPRINT = 'f'.repeat(64);
const DAY = 86_400_000;

// Consumers: one fresh number per test, so counters never leak between tests.
let nextKey = 33_600_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
const fresh = (): number => nextKey++;

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCallgateError(err) ? err.code : err).toBe(code);
}

async function writeList(store: RedisStore, list: string, kind: ListKind, keys: readonly number[]): Promise<GenerationMarker> {
  const sorted = Float64Array.from([...keys].sort((a, b) => a - b));
  const marker = await store.generations.writeGeneration({
    list,
    kind,
    keys: sorted,
    filter: Buffer.from('filter'),
    normaliserVersion: 'v1',
    hashId: 'h',
    fingerprint: FINGERPRINT,
  });
  await store.generations.switchCurrent(list, marker.generation);
  return marker;
}

const item = (marker: GenerationMarker, key: number, role: DecideRole): DecideItem => ({
  list: marker.list,
  generation: marker.generation,
  buckets: marker.buckets,
  key,
  role,
});

describe('calling rules on the shared Redis', () => {
  let store: RedisStore;
  let other: RedisStore;
  // Listed consumers: deny-listed, consenting, under contract, on a contract-exception deny-list.
  const denied = fresh();
  const consenting = fresh();
  const customer = fresh();
  const bloctelCustomer = fresh();
  const intradayDenied = fresh();
  let deny: GenerationMarker;
  let bloctel: GenerationMarker;
  let consent: GenerationMarker;
  let contract: GenerationMarker;
  /** A generation that was never written (no marker): every item on it reads 'unconfirmed'. */
  let ghost: GenerationMarker;

  const rules = (key: number, extra: Partial<DecideInput> = {}): DecideInput => ({
    key,
    items: [],
    dial: true,
    requireConsent: false,
    jsBlocked: false,
    ...extra,
  });

  beforeAll(async () => {
    // No skip: an absent Redis fails the suite here with CALLGATE_ERR_REDIS.
    store = await RedisStore.connect({ url: URL, prefix: PREFIX, connectTimeoutMs: 5000, confirmTimeoutMs: 2000 });
    other = await RedisStore.connect({ url: URL, prefix: PREFIX, connectTimeoutMs: 5000, confirmTimeoutMs: 2000 });
    deny = await writeList(store, 'optout', 'deny', [denied, 33_611_111_111]);
    bloctel = await writeList(store, 'bloctel', 'deny', [bloctelCustomer]);
    consent = await writeList(store, 'consent', 'allow', [consenting, bloctelCustomer]);
    contract = await writeList(store, 'customers', 'allow', [customer, bloctelCustomer]);
    await store.intraday.addIntraday('optout', [intradayDenied], { who: 'test' });
    ghost = { ...consent, generation: 'ghost-0001' };
  });

  afterAll(async () => {
    const found = await redisCli(URL, ['--scan', '--pattern', `${PREFIX}*`]);
    const all = found.split('\n').filter((k) => k.length > 0);
    for (let i = 0; i < all.length; i += 500) await redisCli(URL, ['UNLINK', ...all.slice(i, i + 500)]);
    await other?.close();
    await store?.close();
  });

  it('answers a counted dial whose observer throws as failed (blocks), never leaves it hanging', async () => {
    const throwing = await RedisStore.connect({ url: URL, prefix: PREFIX, connectTimeoutMs: 5000, confirmTimeoutMs: 2000 });
    try {
      throwing.observeRuleWrites({ refusal: () => undefined, attempt: () => { throw new Error('copy full'); } });
      const key = fresh();
      const facts = await throwing.confirmer.decide({ key, items: [item(consent, consenting, 'consent')], dial: true, requireConsent: false, jsBlocked: false });
      expect(facts).toMatchObject({ counted: false, answered: false });
    } finally {
      await throwing.close();
    }
  });

  it('judges consent terms and revocations exactly as the embedded rule does (property, real Redis)', async () => {
    // Random terms around Redis's clock, some numbers revoked: the script's answer must equal judgeAllowEntry's
    // on the same facts, so the two modes cannot drift apart.
    const now = await store.connection.now();
    const around = fc.option(fc.integer({ min: now - 10 * DAY, max: now + 10 * DAY }), { nil: null });
    const cases = fc.sample(fc.record({ consentedAt: around, expiresAt: around, revoke: fc.boolean(), bare: fc.boolean() }), 200);
    const keys = cases.map(() => fresh());
    const terms = new Map<number, string>();
    cases.forEach((c, i) => {
      if (!c.bare) terms.set(keys[i] as number, encodeTerms({ consentedAt: c.consentedAt, source: `s${i}`, proof: `p${i}`, expiresAt: c.expiresAt }));
    });
    const sorted = Float64Array.from([...keys].sort((a, b) => a - b));
    const marker = await store.generations.writeGeneration({ list: 'terms', kind: 'allow', keys: sorted, filter: Buffer.from('f'), normaliserVersion: 'v1', hashId: 'h', fingerprint: FINGERPRINT, terms });
    await store.generations.switchCurrent('terms', marker.generation);
    const revoked = keys.filter((_, i) => cases[i]?.revoke === true);
    if (revoked.length > 0) await store.intraday.removeIntraday('terms', revoked, { who: 'test', revocable: true });
    const revokedAt = await store.intraday.revocations('terms');
    for (const key of keys) {
      const facts = await store.confirmer.decide({ key, items: [item(marker, key, 'consent')], dial: false, requireConsent: true, jsBlocked: false });
      const expected = judgeAllowEntry(true, terms.get(key) ?? null, revokedAt.get(key) ?? null, facts.now);
      expect({ key, answer: facts.memberships[0], terms: facts.terms[0] }).toEqual({ key, answer: expected, terms: terms.get(key) ?? null });
    }
    // The terms hash goes with its generation.
    await store.generations.switchCurrent('terms', (await writeList(store, 'terms', 'allow', [fresh()])).generation);
    await store.generations.deleteGeneration('terms', marker.generation);
    expect(await redisCli(URL, ['EXISTS', termsKey(PREFIX, 'terms', marker.generation)])).toBe('0');
  });

  it('answers memberships exactly as confirm() for deny and allow lists', async () => {
    const nobody = fresh();
    const items: DecideItem[] = [
      item(deny, denied, 'deny'),
      item(deny, nobody, 'deny'),
      item(deny, intradayDenied, 'deny'),
      item(consent, consenting, 'consent'),
      item(consent, nobody, 'consent'),
      item(contract, customer, 'contract'),
      item(contract, nobody, 'allow'),
      item(ghost, consenting, 'consent'),
    ];
    const confirmed = await store.confirmer.confirm(items.map(({ role: _role, ...i }): ConfirmItem => i));
    expect(confirmed).toEqual(['member', 'absent', 'member', 'member', 'absent', 'member', 'absent', 'unconfirmed']);
    const facts = await store.confirmer.decide(rules(nobody, { items, dial: false }));
    expect(facts.memberships).toEqual(confirmed);
    expect(facts.answered).toBe(true);
    expect(facts.counted).toBe(false);
    expect(facts.attempts).toBe(0);
    expect(facts.refusedUntil).toBeNull();
    expect(Math.abs(facts.now - Date.now())).toBeLessThan(5000);
  });

  it('counts only an allowed check with dial, and says so', async () => {
    const key = fresh();
    const peek = await store.confirmer.decide(rules(key, { dial: false }));
    expect(peek).toMatchObject({ counted: false, attempts: 0, oldestAttemptAt: null });
    expect((await store.history.attemptsOf(key)).count).toBe(0);
    const dial = await store.confirmer.decide(rules(key, { items: [item(deny, key, 'deny')] }));
    expect(dial).toMatchObject({ memberships: ['absent'], counted: true, attempts: 0, oldestAttemptAt: null, answered: true });
    const record = await store.history.attemptsOf(key);
    expect(record.count).toBe(1);
    expect(record.times).toEqual([dial.now]);
    // The attempts key expires by itself, one window after the last attempt.
    const ttl = Number(await redisCli(URL, ['PTTL', attemptsKey(PREFIX, key)]));
    expect(ttl).toBeGreaterThan(29 * 86_400_000);
    expect(ttl).toBeLessThanOrEqual(30 * 86_400_000);
  });

  it('refuses the 5th attempt within the window and tells the 4 held with the oldest time', async () => {
    const key = fresh();
    const made: number[] = [];
    for (let i = 0; i < 4; i++) {
      const facts = await store.confirmer.decide(rules(key));
      expect(facts).toMatchObject({ counted: true, attempts: i });
      made.push(facts.now);
    }
    const fifth = await store.confirmer.decide(rules(key));
    expect(fifth).toMatchObject({ counted: false, attempts: 4, oldestAttemptAt: made[0], answered: true });
    expect((await store.history.attemptsOf(key)).times).toEqual(made);
    // A lower cap blocks sooner; no cap still records (the call history the rules apply to).
    expect((await store.confirmer.decide(rules(fresh(), { cap: 0 }))).counted).toBe(false);
    const uncapped = await store.confirmer.decide(rules(key, { cap: null }));
    expect(uncapped).toMatchObject({ counted: true, attempts: 4 });
  });

  it('drops attempts older than the window', async () => {
    const key = fresh();
    const windowMs = 1500;
    for (let i = 0; i < 4; i++) expect((await store.confirmer.decide(rules(key, { windowMs }))).counted).toBe(true);
    const full = await store.confirmer.decide(rules(key, { windowMs }));
    expect(full).toMatchObject({ counted: false, attempts: 4 });
    expect(Number(await redisCli(URL, ['PTTL', attemptsKey(PREFIX, key)]))).toBeLessThanOrEqual(windowMs);
    await new Promise((r) => setTimeout(r, windowMs + 100));
    expect((await store.history.attemptsOf(key, { windowMs })).count).toBe(0);
    const later = await store.confirmer.decide(rules(key, { windowMs }));
    expect(later).toMatchObject({ counted: true, attempts: 0, oldestAttemptAt: null });
    expect((await store.history.attemptsOf(key, { windowMs })).times).toEqual([later.now]);
  });

  it('counts attempts exactly past the one-read peek (no cap, stale and live ones), dropping the stale on a dial', async () => {
    // decide.lua reads the oldest 16 attempts in one ZRANGE; a larger set falls back to ZCOUNT / ZRANGEBYSCORE.
    for (const [stale, live] of [[3, 2], [20, 0], [0, 20], [10, 10]] as const) {
      const key = fresh();
      const now = Date.now();
      const windowMs = 3_600_000;
      const scores = [...Array.from({ length: stale }, (_, i) => now - windowMs - 60_000 - i), ...Array.from({ length: live }, (_, i) => now - 60_000 + i)];
      const args = scores.flatMap((s, i) => [String(s), `${s}-seeded${i}`]);
      if (args.length > 0) await redisCli(URL, ['ZADD', attemptsKey(PREFIX, key), ...args]);
      const facts = await store.confirmer.decide(rules(key, { cap: null, windowMs }));
      expect(facts).toMatchObject({ counted: true, attempts: live, oldestAttemptAt: live > 0 ? now - 60_000 : null, answered: true });
      // The counted dial dropped every stale attempt and kept the live ones with its own.
      expect(Number(await redisCli(URL, ['ZCARD', attemptsKey(PREFIX, key)]))).toBe(live + 1);
      const capped = await store.confirmer.decide(rules(key, { cap: live + 1, windowMs }));
      expect(capped).toMatchObject({ counted: false, attempts: live + 1 });
    }
  });

  it('blocks counting after a refusal until refusedUntil; other outcomes change nothing', async () => {
    const key = fresh();
    const t0 = (await store.history.recordOutcome(key, 'no_answer')).at;
    const t1 = (await store.history.recordOutcome(key, 'answered')).at;
    expect(t1).toBeGreaterThanOrEqual(t0);
    expect(await redisCli(URL, ['EXISTS', refusedKey(PREFIX, key), attemptsKey(PREFIX, key)])).toBe('0');

    const refusedAt = (await store.history.recordOutcome(key, 'refused')).at;
    const facts = await store.confirmer.decide(rules(key));
    expect(facts.counted).toBe(false);
    expect(facts.refusedAt).toBe(refusedAt);
    expect(facts.refusedUntil).not.toBeNull();
    const until = facts.refusedUntil as number;
    expect(Math.abs(until - (refusedAt + refusalTtlMs(60)))).toBeLessThan(50);
    expect((await store.history.attemptsOf(key)).count).toBe(0);
    // A policy that does not apply refusals still counts.
    expect((await store.confirmer.decide(rules(key, { refusals: false }))).counted).toBe(true);

    // A shorter refusal never cuts a running one short.
    await store.history.recordOutcome(key, 'refused', { refusalDays: 1 });
    expect(Number(await redisCli(URL, ['PTTL', refusedKey(PREFIX, key)]))).toBeGreaterThan(refusalTtlMs(60) - 60_000);

    // The period ends when the key expires (shortened here instead of waiting 61 days).
    await redisCli(URL, ['PEXPIRE', refusedKey(PREFIX, key), '300']);
    const near = await store.confirmer.decide(rules(key, { dial: false }));
    expect(near.refusedUntil).not.toBeNull();
    expect((near.refusedUntil as number) - near.now).toBeLessThanOrEqual(300);
    await new Promise((r) => setTimeout(r, 400));
    expect(await store.confirmer.decide(rules(key))).toMatchObject({ counted: true, refusedUntil: null, refusedAt: null, attempts: 1 });

    await expectCode(store.history.recordOutcome(0, 'refused'), 'CALLGATE_ERR_BAD_REQUEST');
    await expectCode(store.history.recordOutcome(key, 'refused', { refusalDays: 0 }), 'CALLGATE_ERR_CONFIG');
  });

  it('treats a refusal key without expiry as a default 60-day refusal from its time', async () => {
    const key = fresh();
    const old = Date.now() - 62 * 86_400_000;
    await redisCli(URL, ['SET', refusedKey(PREFIX, key), String(old)]);
    expect(await store.confirmer.decide(rules(key, { dial: false }))).toMatchObject({ refusedAt: old, refusedUntil: old + refusalTtlMs(60) });
    expect((await store.confirmer.decide(rules(key))).counted).toBe(true);
    const key2 = fresh();
    await redisCli(URL, ['SET', refusedKey(PREFIX, key2), String(Date.now())]);
    expect((await store.confirmer.decide(rules(key2))).counted).toBe(false);
  });

  it('requires a confirmed consent or contract when asked', async () => {
    const stranger = fresh();
    const asked = { requireConsent: true };
    expect((await store.confirmer.decide(rules(stranger, { ...asked, items: [item(consent, stranger, 'consent')] }))).counted).toBe(false);
    expect((await store.confirmer.decide(rules(stranger, asked))).counted).toBe(false);
    // An allow-list that is neither consent nor contract satisfies nothing.
    expect((await store.confirmer.decide(rules(consenting, { ...asked, items: [item(consent, consenting, 'allow')] }))).counted).toBe(false);
    // 'unconfirmed' on the consent list does not satisfy it.
    const ghostly = await store.confirmer.decide(rules(consenting, { ...asked, items: [item(ghost, consenting, 'consent')] }));
    expect(ghostly).toMatchObject({ memberships: ['unconfirmed'], counted: false, answered: true });
    expect((await store.history.attemptsOf(consenting)).count).toBe(0);

    expect((await store.confirmer.decide(rules(consenting, { ...asked, items: [item(consent, consenting, 'consent')] }))).counted).toBe(true);
    expect((await store.confirmer.decide(rules(customer, { ...asked, items: [item(contract, customer, 'contract')] }))).counted).toBe(true);
    // Without requireConsent, nothing is asked.
    expect((await store.confirmer.decide(rules(stranger))).counted).toBe(true);
  });

  it('never counts a deny hit (member or unconfirmed) unless a contract lifts an exception list', async () => {
    expect((await store.confirmer.decide(rules(denied, { items: [item(deny, denied, 'deny')] }))).counted).toBe(false);
    expect((await store.confirmer.decide(rules(intradayDenied, { items: [item(deny, intradayDenied, 'deny')] }))).counted).toBe(false);
    const unsure = fresh();
    const ghostDeny = { ...deny, generation: 'ghost-0002' };
    expect(await store.confirmer.decide(rules(unsure, { items: [item(ghostDeny, unsure, 'deny')] }))).toMatchObject({ memberships: ['unconfirmed'], counted: false });
    // A contract never lifts an ordinary deny-list (the consumer's own opt-out).
    expect((await store.confirmer.decide(rules(customer, { items: [item(contract, customer, 'contract'), item(deny, customer, 'deny')] }))).memberships).toEqual(['member', 'absent']);
    const optedOutCustomer = { ...item(deny, denied, 'deny') };
    expect((await store.confirmer.decide(rules(denied, { items: [item(contract, denied, 'contract'), optedOutCustomer] }))).counted).toBe(false);
    // Bloctel as a contract-exception list: lifted only by a contract member.
    const bloctelItem = item(bloctel, bloctelCustomer, 'deny-contract');
    expect((await store.confirmer.decide(rules(bloctelCustomer, { items: [bloctelItem, item(consent, bloctelCustomer, 'consent')] }))).counted).toBe(false);
    expect((await store.confirmer.decide(rules(bloctelCustomer, { items: [bloctelItem, item(ghost, bloctelCustomer, 'contract')] }))).counted).toBe(false);
    const lifted = await store.confirmer.decide(rules(bloctelCustomer, { items: [bloctelItem, item(contract, bloctelCustomer, 'contract')] }));
    expect(lifted).toMatchObject({ memberships: ['member', 'member'], counted: true });
    // 'unconfirmed' on an exception list is never lifted.
    const unsureBloctel = { ...item(bloctel, bloctelCustomer, 'deny-contract'), generation: 'ghost-0003' };
    expect((await store.confirmer.decide(rules(bloctelCustomer, { items: [unsureBloctel, item(contract, bloctelCustomer, 'contract')] }))).counted).toBe(false);
  });

  it('counts nothing when rules evaluated in JS block', async () => {
    const key = fresh();
    expect(await store.confirmer.decide(rules(key, { jsBlocked: true }))).toMatchObject({ counted: false, answered: true });
    expect((await store.history.attemptsOf(key)).count).toBe(0);
  });

  it('answers bad input as unconfirmed without throwing', async () => {
    const key = fresh();
    for (const bad of [rules(0), rules(1.5), rules(key, { cap: -1 }), rules(key, { windowMs: 0 }), rules(key, { items: [{ ...item(deny, key, 'deny'), buckets: 0 }] })]) {
      expect(await store.confirmer.decide(bad)).toMatchObject({ counted: false, answered: false });
    }
    expect((await store.confirmer.decide(rules(key, { items: [{ ...item(deny, key, 'deny'), role: 'maybe' as DecideRole }] }))).memberships).toEqual(['unconfirmed']);
    expect((await store.history.attemptsOf(key)).count).toBe(0);
  });

  it('counts exactly 4 of 20 concurrent dials on one number from two connections', async () => {
    const key = fresh();
    const items = [item(deny, key, 'deny'), item(consent, key, 'consent')];
    const racing = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).confirmer.decide(rules(key, { items })));
    const all = await Promise.all(racing);
    expect(all.every((f) => f.answered)).toBe(true);
    expect(all.filter((f) => f.counted)).toHaveLength(4);
    expect(all.filter((f) => !f.counted).every((f) => f.attempts === 4)).toBe(true);
    // Each counted dial saw a distinct count before it: 0, 1, 2, 3.
    expect(all.filter((f) => f.counted).map((f) => f.attempts).sort()).toEqual([0, 1, 2, 3]);
    expect((await store.history.attemptsOf(key)).count).toBe(4);
  });
});

describe('calling rules under faults (private redis-server)', () => {
  let redis: PrivateRedis;
  let store: RedisStore;
  let marker: GenerationMarker;
  const key = 33_612_345_678;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    store = await RedisStore.connect({ url: redis.url, confirmTimeoutMs: 50, reconnectMaxDelayMs: 200, onError: () => undefined });
    marker = await writeList(store, 'consent', 'allow', [key]);
  });

  afterAll(async () => {
    // Thawed in the test's finally; a stopped (killed) server must not be signalled again.
    await store?.close();
    await redis?.stop();
  });

  it('answers unconfirmed and uncounted within the timeout while Redis is frozen, then counts again', async () => {
    const input: DecideInput = { key, items: [item(marker, key, 'consent'), item(marker, key, 'deny')], dial: true, requireConsent: true, jsBlocked: false };
    expect(await store.confirmer.decide(input)).toMatchObject({ memberships: ['member', 'member'], counted: false, answered: true });
    const allowed = { ...input, items: [item(marker, key, 'consent')] };
    expect((await store.confirmer.decide(allowed)).counted).toBe(true);
    redis.signal('SIGSTOP');
    try {
      const started = performance.now();
      const facts = await store.confirmer.decide(allowed);
      const elapsed = performance.now() - started;
      expect(facts).toMatchObject({ memberships: ['unconfirmed'], counted: false, answered: false, refusedUntil: null });
      expect(elapsed).toBeGreaterThanOrEqual(45);
      expect(elapsed).toBeLessThan(500);
    } finally {
      redis.signal('SIGCONT');
    }
    // The frozen server ran the timed-out script on thawing: that attempt counts (quota used, no call: the safe side).
    const deadline = Date.now() + 10_000;
    let after = await store.confirmer.decide(allowed);
    while (!after.answered && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = await store.confirmer.decide(allowed);
    }
    expect(after.answered).toBe(true);
    expect(after.attempts).toBe(2);
    expect(after.counted).toBe(true);
  });

  it('answers unconfirmed at once while Redis is down', async () => {
    await redis.stop();
    const deadline = Date.now() + 5000;
    while (store.connection.isUp() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    const facts = await store.confirmer.decide({ key, items: [item(marker, key, 'consent')], dial: true, requireConsent: true, jsBlocked: false });
    expect(performance.now() - started).toBeLessThan(20);
    expect(facts).toMatchObject({ memberships: ['unconfirmed'], counted: false, answered: false });
    await expectCode(store.history.attemptsOf(key), 'CALLGATE_ERR_REDIS');
  });
});
