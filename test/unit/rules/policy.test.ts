import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateHours } from '../../../src/rules/calling-hours.js';
import { type ConsumerZone, zoneOf } from '../../../src/rules/consumer-zone.js';
import { ErrorCode } from '../../../src/core/errors.js';
import {
  BUILTIN_POLICIES,
  DEFAULT_BANNED_SECTORS,
  DENY_LISTS_POLICY,
  type Decision,
  FR_OPTIN_POLICY,
  FR_OPTOUT_POLICY,
  type PolicyInput,
  attemptWindowStart,
  definePolicy,
  evaluatePolicy,
  refusalEndsAt,
} from '../../../src/rules/policy.js';
import { codeOf } from '../../helpers/errors.js';

const DAY = 86_400_000;
const PARIS: ConsumerZone = { timezone: 'Europe/Paris', holidayRegion: 'FR' };
/** Tuesday 1 December 2026, 11:00 in Paris: within hours, not a holiday. */
const NOW = new Date('2026-12-01T11:00:00+01:00');

/** An input that every policy allows; tests change one fact at a time. */
function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    policy: FR_OPTIN_POLICY,
    e164: '+33612345678',
    now: NOW,
    lists: 'ready',
    denyHit: null,
    consent: { state: 'valid' },
    contract: false,
    sector: null,
    refusedUntil: null,
    attemptsInWindow: 0,
    oldestAttemptAt: null,
    zone: PARIS,
    ...over,
  };
}

const allow = (basis: 'consent' | 'contract' | 'not_listed'): Decision => ({ verdict: 'allow', reason: basis, basis, countsAttempt: true });
const block = (reason: string, retryAt?: string): Decision =>
  retryAt === undefined ? { verdict: 'block', reason, countsAttempt: false } : { verdict: 'block', reason, retryAt, countsAttempt: false };


describe('built-in policies', () => {
  it('are the three named ones with the French defaults', () => {
    expect([...BUILTIN_POLICIES.keys()]).toEqual(['deny-lists', 'fr-optout', 'fr-optin']);
    expect(FR_OPTIN_POLICY).toMatchObject({
      requireConsent: true,
      hours: true,
      frequencyCap: { max: 4, windowDays: 30 },
      refusalDays: 60,
      bannedSectors: ['energy_renovation', 'home_adaptation', 'cpf'],
      contractExceptionLists: [],
    });
    expect(FR_OPTOUT_POLICY.requireConsent).toBe(false);
    expect(DENY_LISTS_POLICY).toMatchObject({ requireConsent: false, hours: false, frequencyCap: null, refusalDays: null, bannedSectors: [] });
  });

  it('need the audit record of an allow under the French policies and their variants, not under deny-lists unless configured', () => {
    expect(FR_OPTOUT_POLICY.allowNeedsAudit).toBe(true);
    expect(FR_OPTIN_POLICY.allowNeedsAudit).toBe(true);
    expect(definePolicy('fr-optin', { name: 'acme' }).allowNeedsAudit).toBe(true);
    expect(DENY_LISTS_POLICY.allowNeedsAudit).toBe(false);
    expect(definePolicy('deny-lists', { name: 'proven', allowNeedsAudit: true }).allowNeedsAudit).toBe(true);
    expect(definePolicy('fr-optout', { name: 'lax', allowNeedsAudit: false }).allowNeedsAudit).toBe(false);
    expect(codeOf(() => definePolicy('fr-optout', { allowNeedsAudit: 'yes' as unknown as boolean }))).toBe(ErrorCode.CONFIG);
  });

  it('definePolicy overrides and validates', () => {
    const p = definePolicy('fr-optout', { name: 'acme', contractExceptionLists: ['bloctel'] });
    expect(p).toMatchObject({ name: 'acme', requireConsent: false, hours: true, contractExceptionLists: ['bloctel'] });
    expect(Object.isFrozen(p)).toBe(true);
    expect(codeOf(() => definePolicy('fr-whatever'))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => definePolicy('fr-optin', { frequencyCap: { max: 0, windowDays: 30 } }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => definePolicy('fr-optin', { frequencyCap: { max: 4, windowDays: 1.5 } }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => definePolicy('fr-optin', { refusalDays: -1 }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => definePolicy('fr-optin', { bannedSectors: [''] }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => definePolicy('fr-optin', { name: '' }))).toBe(ErrorCode.CONFIG);
  });
});

describe('rule order: a number hitting every rule gets the earliest reason', () => {
  // Everything wrong at once, then fixed one rule at a time, in the documented order.
  const worst: Partial<PolicyInput> = {
    e164: null,
    lists: 'not_ready',
    denyHit: 'internal-optout',
    sector: 'cpf',
    refusedUntil: NOW.getTime() + 10 * DAY,
    consent: { state: 'none' },
    now: new Date('2026-12-05T11:00:00+01:00'), // Saturday
    attemptsInWindow: 4,
  };
  const steps: [string, Partial<PolicyInput>, string][] = [
    ['invalid_number', {}, 'invalid_number'],
    ['not_ready', { e164: '+33612345678' }, 'not_ready'],
    ['stale_list', { lists: 'stale_list' }, 'stale_list'],
    ['deny-list name', { lists: 'ready' }, 'internal-optout'],
    ['sector_ban', { denyHit: null }, 'sector_ban'],
    ['refused_recently', { sector: null }, 'refused_recently'],
    ['no_consent', { refusedUntil: null }, 'no_consent'],
    ['outside_hours', { consent: { state: 'valid' } }, 'outside_hours'],
    ['frequency_cap', { now: NOW }, 'frequency_cap'],
  ];
  let acc: Partial<PolicyInput> = { ...worst };
  for (const [name, fix, reason] of steps) {
    acc = { ...acc, ...fix };
    const snapshot = acc;
    it(name, () => {
      const d = evaluatePolicy(input(snapshot));
      expect(d.verdict).toBe('block');
      expect(d.reason).toBe(reason);
      expect(d.countsAttempt).toBe(false);
    });
  }
  it('and with the cap below its limit, the call is allowed', () => {
    expect(evaluatePolicy(input({ ...acc, attemptsInWindow: 3 }))).toEqual(allow('consent'));
  });

  it('a holiday is reported before the cap', () => {
    expect(evaluatePolicy(input({ now: new Date('2026-12-25T11:00:00+01:00'), attemptsInWindow: 9 })).reason).toBe('holiday');
  });
});

describe('deny-lists', () => {
  it('beat consent', () => {
    expect(evaluatePolicy(input({ denyHit: 'internal-optout', consent: { state: 'valid' } }))).toEqual(block('internal-optout'));
  });

  it('beat a contract unless the list is named in contractExceptionLists', () => {
    expect(evaluatePolicy(input({ policy: FR_OPTOUT_POLICY, denyHit: 'bloctel', contract: true }))).toEqual(block('bloctel'));
    const withException = definePolicy('fr-optout', { contractExceptionLists: ['bloctel'] });
    expect(evaluatePolicy(input({ policy: withException, denyHit: 'bloctel', contract: true }))).toEqual(allow('contract'));
    expect(evaluatePolicy(input({ policy: withException, denyHit: 'bloctel', contract: false }))).toEqual(block('bloctel'));
    expect(evaluatePolicy(input({ policy: withException, denyHit: 'internal-optout', contract: true }))).toEqual(block('internal-optout'));
    // an unconfirmed hit could be any list: never lifted
    expect(evaluatePolicy(input({ policy: withException, denyHit: 'unconfirmed', contract: true }))).toEqual(block('unconfirmed'));
  });

  it('the contract exception works under fr-optin too, basis contract even with consent', () => {
    const p = definePolicy('fr-optin', { contractExceptionLists: ['bloctel'] });
    expect(evaluatePolicy(input({ policy: p, denyHit: 'bloctel', contract: true, consent: { state: 'valid' } }))).toEqual(allow('contract'));
  });

  it('the deny-lists policy checks lists only', () => {
    const p = DENY_LISTS_POLICY;
    expect(evaluatePolicy(input({ policy: p, denyHit: 'bloctel' }))).toEqual(block('bloctel'));
    const everythingElseWrong: Partial<PolicyInput> = {
      policy: p,
      consent: { state: 'none' },
      sector: 'cpf',
      refusedUntil: NOW.getTime() + DAY,
      attemptsInWindow: 100,
      now: new Date('2026-12-25T03:00:00+01:00'),
      zone: null,
    };
    expect(evaluatePolicy(input(everythingElseWrong))).toEqual(allow('not_listed'));
  });
});

describe('sector bans', () => {
  for (const sector of DEFAULT_BANNED_SECTORS) {
    it(`${sector}: blocked without a contract, even with consent; allowed under a contract`, () => {
      expect(evaluatePolicy(input({ sector, consent: { state: 'valid' } }))).toEqual(block('sector_ban'));
      expect(evaluatePolicy(input({ sector, contract: true }))).toEqual(allow('contract'));
      expect(evaluatePolicy(input({ policy: FR_OPTOUT_POLICY, sector }))).toEqual(block('sector_ban'));
      expect(evaluatePolicy(input({ policy: FR_OPTOUT_POLICY, sector, contract: true }))).toEqual(allow('contract'));
    });
  }

  it('other sectors pass; configured bans replace the defaults', () => {
    expect(evaluatePolicy(input({ sector: 'insurance' }))).toEqual(allow('consent'));
    const p = definePolicy('fr-optin', { bannedSectors: ['insurance'] });
    expect(evaluatePolicy(input({ policy: p, sector: 'insurance' }))).toEqual(block('sector_ban'));
    expect(evaluatePolicy(input({ policy: p, sector: 'cpf' }))).toEqual(allow('consent'));
  });
});

describe('consent (fr-optin)', () => {
  it('valid → allow on consent; expired or none → no_consent', () => {
    expect(evaluatePolicy(input({ consent: { state: 'valid' } }))).toEqual(allow('consent'));
    expect(evaluatePolicy(input({ consent: { state: 'expired' } }))).toEqual(block('no_consent'));
    expect(evaluatePolicy(input({ consent: { state: 'none' } }))).toEqual(block('no_consent'));
  });

  it('a contract in progress replaces consent', () => {
    expect(evaluatePolicy(input({ consent: { state: 'none' }, contract: true }))).toEqual(allow('contract'));
    expect(evaluatePolicy(input({ consent: { state: 'expired' }, contract: true }))).toEqual(allow('contract'));
  });

  it('fr-optout does not need consent', () => {
    expect(evaluatePolicy(input({ policy: FR_OPTOUT_POLICY, consent: { state: 'none' } }))).toEqual(allow('not_listed'));
    expect(evaluatePolicy(input({ policy: FR_OPTOUT_POLICY, consent: { state: 'none' }, contract: true }))).toEqual(allow('not_listed'));
  });
});

describe('frequency cap (4 per 30 days)', () => {
  it('3 attempts → allow and count; 4 → block without counting', () => {
    for (const policy of [FR_OPTIN_POLICY, FR_OPTOUT_POLICY]) {
      expect(evaluatePolicy(input({ policy, attemptsInWindow: 3 })).verdict).toBe('allow');
      expect(evaluatePolicy(input({ policy, attemptsInWindow: 3 })).countsAttempt).toBe(true);
      expect(evaluatePolicy(input({ policy, attemptsInWindow: 4 }))).toEqual(block('frequency_cap'));
      expect(evaluatePolicy(input({ policy, attemptsInWindow: 5 })).reason).toBe('frequency_cap');
    }
  });

  it('a contract does not lift the cap', () => {
    expect(evaluatePolicy(input({ contract: true, attemptsInWindow: 4 })).reason).toBe('frequency_cap');
  });

  it('retryAt is when the oldest attempt leaves the window, moved into calling hours', () => {
    // oldest Tue 3 Nov 11:15 → leaves Thu 3 Dec 11:15: within hours
    const a = Date.parse('2026-11-03T11:15:00+01:00');
    expect(evaluatePolicy(input({ attemptsInWindow: 4, oldestAttemptAt: a }))).toEqual(block('frequency_cap', '2026-12-03T11:15:00+01:00'));
    // oldest Thu 5 Nov 15:30 → leaves Sat 5 Dec 15:30 → Monday 7 Dec 10:00
    const b = Date.parse('2026-11-05T15:30:00+01:00');
    expect(evaluatePolicy(input({ attemptsInWindow: 4, oldestAttemptAt: b }))).toEqual(block('frequency_cap', '2026-12-07T10:00:00+01:00'));
    // in a Réunion consumer's offset
    const re = zoneOf('+262692123456', 'Europe/Paris');
    // oldest Tue 3 Nov 13:30 → leaves Thu 3 Dec 13:30, the lunch break → 14:00
    const c = Date.parse('2026-11-03T13:30:00+04:00');
    expect(evaluatePolicy(input({ zone: re, now: new Date('2026-12-01T11:00:00+04:00'), attemptsInWindow: 4, oldestAttemptAt: c }))).toEqual(
      block('frequency_cap', '2026-12-03T14:00:00+04:00'),
    );
  });

  it('attemptWindowStart is 30 × 24 h back', () => {
    expect(attemptWindowStart(NOW)).toBe(NOW.getTime() - 30 * DAY);
    expect(attemptWindowStart(NOW, { max: 2, windowDays: 7 })).toBe(NOW.getTime() - 7 * DAY);
  });
});

describe('refusal (60 days)', () => {
  it('blocks while refusedUntil is after now, not at or after it', () => {
    const t = NOW.getTime();
    expect(evaluatePolicy(input({ refusedUntil: t + 1 })).reason).toBe('refused_recently');
    expect(evaluatePolicy(input({ refusedUntil: t })).verdict).toBe('allow');
    expect(evaluatePolicy(input({ refusedUntil: t - 1 })).verdict).toBe('allow');
  });

  it('a contract or consent does not lift it', () => {
    expect(evaluatePolicy(input({ refusedUntil: NOW.getTime() + DAY, contract: true })).reason).toBe('refused_recently');
  });

  it('refusalEndsAt: 60 whole local days after the day of the refusal', () => {
    // refused Tue 1 Sep 2026 15:00 (UTC+2) → free from Sun 1 Nov 00:00 (UTC+1, after DST)
    const refused = Date.parse('2026-09-01T15:00:00+02:00');
    const until = refusalEndsAt(refused, 'Europe/Paris');
    expect(new Date(until).toISOString()).toBe('2026-10-31T23:00:00.000Z');
    // whatever the hour of the refusal that day
    expect(refusalEndsAt(Date.parse('2026-09-01T00:00:01+02:00'), 'Europe/Paris')).toBe(until);
    expect(refusalEndsAt(Date.parse('2026-09-01T23:59:59+02:00'), 'Europe/Paris')).toBe(until);
    // Réunion, its own calendar day
    expect(new Date(refusalEndsAt(Date.parse('2026-03-10T12:00:00+04:00'), 'Indian/Reunion', 60)).toISOString()).toBe('2026-05-09T20:00:00.000Z');
  });

  it('edges around the end, with retryAt in calling hours', () => {
    const until = refusalEndsAt(Date.parse('2026-09-01T15:00:00+02:00'), 'Europe/Paris');
    // Fri 30 Oct (day 59): blocked; free from 1 Nov, a Sunday and Toussaint → Monday 2 Nov 10:00
    expect(evaluatePolicy(input({ refusedUntil: until, now: new Date('2026-10-30T11:00:00+01:00') }))).toEqual(
      block('refused_recently', '2026-11-02T10:00:00+01:00'),
    );
    // Sat 31 Oct 23:59:59 (day 60): still refused, before hours matter
    expect(evaluatePolicy(input({ refusedUntil: until, now: new Date(until - 1000) })).reason).toBe('refused_recently');
    expect(evaluatePolicy(input({ refusedUntil: until, now: new Date('2026-11-02T10:00:00+01:00') }))).toEqual(allow('consent'));
    // a policy without hours gives the end itself
    const noHours = definePolicy('fr-optout', { hours: false });
    expect(evaluatePolicy(input({ policy: noHours, refusedUntil: until, now: new Date('2026-10-30T11:00:00+01:00') }))).toEqual(
      block('refused_recently', '2026-11-01T00:00:00+01:00'),
    );
  });
});

describe('hours via the zone', () => {
  const instant = new Date('2026-12-01T07:00:00Z'); // 08:00 Paris, 11:00 Réunion, 10:00 Mayotte, 03:00 Antilles
  it('the consumer zone decides', () => {
    expect(evaluatePolicy(input({ now: instant, zone: zoneOf('+33612345678', 'Europe/Paris') }))).toEqual(block('outside_hours', '2026-12-01T10:00:00+01:00'));
    expect(evaluatePolicy(input({ now: instant, zone: zoneOf('+262692123456', 'Europe/Paris') }))).toEqual(allow('consent'));
    expect(evaluatePolicy(input({ now: instant, zone: zoneOf('+262639123456', 'Europe/Paris') }))).toEqual(allow('consent'));
    expect(evaluatePolicy(input({ now: instant, zone: zoneOf('+590690123456', 'Europe/Paris') }))).toEqual(block('outside_hours', '2026-12-01T10:00:00-04:00'));
    expect(evaluatePolicy(input({ now: instant, zone: zoneOf('+594694123456', 'Europe/Paris') }))).toEqual(block('outside_hours', '2026-12-01T10:00:00-03:00'));
  });

  it('holidays of the consumer region', () => {
    const mayotte = zoneOf('+262639123456', 'Europe/Paris');
    expect(evaluatePolicy(input({ zone: mayotte, now: new Date('2026-04-27T11:00:00+03:00') }))).toEqual(block('holiday', '2026-04-28T10:00:00+03:00'));
    expect(evaluatePolicy(input({ zone: PARIS, now: new Date('2026-04-27T11:00:00+02:00') }))).toEqual(allow('consent'));
  });

  it('a number that cannot be placed is never within provable hours', () => {
    expect(evaluatePolicy(input({ zone: null }))).toEqual(block('outside_hours'));
    expect(evaluatePolicy(input({ policy: FR_OPTOUT_POLICY, zone: null }))).toEqual(block('outside_hours'));
  });

  it('a policy without hours ignores them', () => {
    const p = definePolicy('fr-optin', { hours: false });
    expect(evaluatePolicy(input({ policy: p, now: new Date('2026-12-05T03:00:00+01:00') }))).toEqual(allow('consent'));
  });
});

describe('property: never a wrong allow', () => {
  it('every allow satisfies every rule of its policy', () => {
    const policies = [DENY_LISTS_POLICY, FR_OPTOUT_POLICY, FR_OPTIN_POLICY, definePolicy('fr-optout', { name: 'x', contractExceptionLists: ['bloctel'] })];
    const start = Date.parse('2026-01-01T00:00:00Z');
    const arb = fc.record({
      policy: fc.constantFrom(...policies),
      e164: fc.constantFrom<string | null>('+33612345678', '+262692123456', '+596696123456', null, '0612345678'),
      nowSec: fc.integer({ min: start / 1000, max: start / 1000 + 730 * 86_400 }),
      lists: fc.constantFrom('ready' as const, 'not_ready' as const, 'stale_list' as const),
      denyHit: fc.constantFrom<string | null>(null, 'bloctel', 'internal-optout', 'unconfirmed'),
      consent: fc.constantFrom({ state: 'valid' as const }, { state: 'none' as const }, { state: 'expired' as const }),
      contract: fc.boolean(),
      sector: fc.constantFrom<string | null>(null, 'cpf', 'insurance', 'energy_renovation'),
      refusedOffsetSec: fc.option(fc.integer({ min: -90 * 86_400, max: 90 * 86_400 })),
      attemptsInWindow: fc.integer({ min: 0, max: 8 }),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const now = new Date(a.nowSec * 1000);
        const zone = a.e164 === null ? null : zoneOf(a.e164, 'Europe/Paris');
        const refusedUntil = a.refusedOffsetSec === null ? null : now.getTime() + a.refusedOffsetSec * 1000;
        const d = evaluatePolicy(input({ ...a, now, zone, refusedUntil, oldestAttemptAt: null }));
        expect(d.countsAttempt).toBe(d.verdict === 'allow');
        if (d.verdict === 'block') return;
        const p = a.policy;
        expect(a.e164 !== null && /^\+\d+$/.test(a.e164)).toBe(true);
        expect(a.lists).toBe('ready');
        if (a.denyHit !== null) expect(a.contract && p.contractExceptionLists.includes(a.denyHit)).toBe(true);
        if (a.sector !== null && p.bannedSectors.includes(a.sector)) expect(a.contract).toBe(true);
        if (p.refusalDays !== null && refusedUntil !== null) expect(refusedUntil).toBeLessThanOrEqual(now.getTime());
        if (p.requireConsent) expect(a.consent.state === 'valid' || a.contract).toBe(true);
        if (p.hours) expect(evaluateHours(now, zone as ConsumerZone).ok).toBe(true);
        if (p.frequencyCap !== null) expect(a.attemptsInWindow).toBeLessThan(p.frequencyCap.max);
      }),
      { numRuns: 2000 },
    );
  });
});
