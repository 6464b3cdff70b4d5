import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTerms, encodeTerms, judgeAllowEntry, parseTerms, parseTermsDate, type ConsentTerms } from '../../../src/rules/consent-terms.js';
import { IntradayAdditions } from '../../../src/lists/intraday.js';
import { ListAccumulator, splitFields } from '../../../src/refresh/parse.js';
import { normalise } from '../../../src/numbers/normalise.js';

const T = (iso: string): number => Date.parse(iso);

describe('parseTermsDate', () => {
  it('reads a date as 00:00 in Paris, a wall time as Paris time, and an offset as written', () => {
    expect(parseTermsDate('2026-09-01')).toBe(T('2026-08-31T22:00:00Z'));
    expect(parseTermsDate('2026-01-15')).toBe(T('2026-01-14T23:00:00Z'));
    expect(parseTermsDate('2026-09-01 14:03')).toBe(T('2026-09-01T12:03:00Z'));
    expect(parseTermsDate('2026-09-01T14:03:07')).toBe(T('2026-09-01T12:03:07Z'));
    expect(parseTermsDate('2026-09-01T14:03:07Z')).toBe(T('2026-09-01T14:03:07Z'));
    expect(parseTermsDate('2026-09-01T14:03:07.250+02:00')).toBe(T('2026-09-01T12:03:07.250Z'));
    expect(parseTermsDate(' 2026-09-01 ')).toBe(T('2026-08-31T22:00:00Z'));
  });

  // Years before 1900 are refused in every form (they used to read as 19xx in one form and as written in another).
  it('refuses what is not a real ISO 8601 date', () => {
    for (const bad of ['', 'yesterday', '01/09/2026', '2026-02-30', '2026-13-01', '2026-09-01T25:00', '2026-09-01T10:61Z', '20260901', '2026-9-1', '0050-06-01', '0099-12-31 10:00', '0050-06-01T12:00Z', '1899-12-31']) {
      expect(parseTermsDate(bad), bad).toBeNull();
    }
  });
});

describe('parseTerms', () => {
  it('reads consented_at, source, proof and expires_at; none is required', () => {
    expect(parseTerms([])).toBeNull();
    expect(parseTerms(['', '', ''])).toBeNull();
    expect(parseTerms(['2026-09-01', 'web:form-3', 'proof-9', '2027-09-01'])).toEqual({
      consentedAt: T('2026-08-31T22:00:00Z'),
      source: 'web:form-3',
      proof: 'proof-9',
      expiresAt: T('2027-08-31T22:00:00Z'),
    });
    expect(parseTerms(['', 'call', ''])).toEqual({ consentedAt: null, source: 'call', proof: '', expiresAt: null });
  });

  it('is bad when a date cannot be read or the consent ends before it starts', () => {
    expect(parseTerms(['soon', 'web', 'p'])).toBe('bad');
    expect(parseTerms(['2026-09-01', 'web', 'p', 'never'])).toBe('bad');
    expect(parseTerms(['2026-09-01', 'web', 'p', '2026-09-01'])).toBe('bad');
    expect(parseTerms(['2026-09-01', 'web', 'p', '2026-08-01'])).toBe('bad');
  });

  it('round-trips through the stored form, tabs and line breaks flattened', () => {
    const t: ConsentTerms = { consentedAt: 1, source: 'a b', proof: 'c', expiresAt: 2 };
    expect(decodeTerms(encodeTerms(t))).toEqual(t);
    const odd = parseTerms(['', 'web\tform', 'x\ny']);
    expect(odd).toMatchObject({ source: 'web form', proof: 'x y' });
    expect(decodeTerms(encodeTerms(odd as ConsentTerms))).toEqual(odd);
    expect(decodeTerms('garbage')).toBeNull();
  });
});

describe('judgeAllowEntry: expiry and revocation', () => {
  const terms = (consentedAt: number | null, expiresAt: number | null): string => encodeTerms({ consentedAt, source: '', proof: '', expiresAt });

  it('an expiry ends the consent at its instant exactly', () => {
    expect(judgeAllowEntry(true, terms(100, 1000), null, 999)).toBe('member');
    expect(judgeAllowEntry(true, terms(100, 1000), null, 1000)).toBe('expired');
    expect(judgeAllowEntry(true, terms(100, null), null, 1e15)).toBe('member');
  });

  it('a revocation beats a consent given at or before it, not one given after it', () => {
    expect(judgeAllowEntry(true, null, 500, 600)).toBe('revoked');
    expect(judgeAllowEntry(true, terms(null, null), 500, 600)).toBe('revoked');
    expect(judgeAllowEntry(true, terms(500, null), 500, 600)).toBe('revoked');
    expect(judgeAllowEntry(true, terms(501, null), 500, 600)).toBe('member');
    // Revoked and expired: the revocation is what the trail reports.
    expect(judgeAllowEntry(true, terms(100, 550), 500, 600)).toBe('revoked');
  });

  it('an unlisted number is absent; an unreadable stored form proves nothing', () => {
    expect(judgeAllowEntry(false, terms(1, null), null, 2)).toBe('absent');
    expect(judgeAllowEntry(true, 'not\tterms', null, 2)).toBe('expired');
  });

  it('property: never "member" once expired, nor while a revocation postdates the consent', () => {
    const ms = fc.integer({ min: 0, max: 4_000_000_000_000 });
    fc.assert(
      fc.property(fc.option(ms), fc.option(ms), fc.option(ms), ms, (consentedAt, expiresAt, revokedAt, now) => {
        const answer = judgeAllowEntry(true, terms(consentedAt, expiresAt), revokedAt, now);
        if (expiresAt !== null && expiresAt <= now) expect(answer).not.toBe('member');
        if (revokedAt !== null && (consentedAt === null || consentedAt <= revokedAt)) expect(answer).toBe('revoked');
        if (answer === 'member') {
          expect(expiresAt === null || expiresAt > now).toBe(true);
          expect(revokedAt === null || (consentedAt !== null && consentedAt > revokedAt)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('consent list lines', () => {
  it('splits CSV fields, quoted ones included', () => {
    expect(splitFields('0612345678;2026-09-01;web;p1;2027-01-01')).toEqual(['0612345678', '2026-09-01', 'web', 'p1', '2027-01-01']);
    expect(splitFields('"06 12 34 56 78","2026-09-01","web, form ""B""",p2,')).toEqual(['06 12 34 56 78', '2026-09-01', 'web, form "B"', 'p2', '']);
    expect(splitFields("'0612345678\t2026-09-01")).toEqual(['0612345678', '2026-09-01']);
    expect(splitFields('0612345678')).toEqual(['0612345678']);
  });

  it('a consent list keeps terms per number, counts bad terms as bad lines and does not take their number', () => {
    const acc = new ListAccumulator(normalise, 16, { terms: true });
    for (const line of [
      'number,consented_at,source,proof,expires_at',
      '0612000001,2026-09-01,web,p1,2027-09-01',
      '0612000002',
      '0612000003,31/12/2026,web,p3,',
      '0612000004,2026-09-01,web,p4,2026-08-01',
      '0612000001,2026-10-01,web,p1-renewed,', // a later consent of the same number wins
      '0612000005,2026-10-01,web,p5,',
      '0612000005,2026-09-01,web,p5-older,', // an older one does not
    ]) {
      acc.addLine(line);
    }
    const r = acc.result();
    expect(r.numbers).toBe(5);
    expect(r.badLines).toBe(2);
    expect(r.badLineNumbers).toEqual([4, 5]);
    expect([...r.keys]).not.toContain(33612000003);
    expect(decodeTerms(r.terms?.get(33612000001) ?? '')).toMatchObject({ proof: 'p1-renewed', expiresAt: null });
    expect(decodeTerms(r.terms?.get(33612000005) ?? '')).toMatchObject({ proof: 'p5' });
    expect(r.terms?.has(33612000002)).toBe(false);
  });

  it('other lists ignore the columns after the number', () => {
    const acc = new ListAccumulator(normalise, 16);
    acc.addLine('0612000003,31/12/2026,web,p3,');
    expect(acc.result()).toMatchObject({ numbers: 1, badLines: 0, terms: null });
  });
});

describe('IntradayAdditions on an allow-list', () => {
  it('a removal is a revocation kept across files; an addition lifts it', () => {
    const a = new IntradayAdditions(true);
    a.remove(1, 1000);
    expect(a.revokedAt(1)).toBe(1000);
    expect(a.clearBefore(5000)).toBe(0);
    expect(a.revokedAt(1)).toBe(1000);
    a.add(1, 2000);
    expect(a.revokedAt(1)).toBeNull();
    expect(a.has(1)).toBe(true);
    // Forgetting (re-seeding from Redis) is not a revocation.
    a.forget(1);
    expect(a.has(1)).toBe(false);
    expect(a.revokedAt(1)).toBeNull();
  });

  it('a deny-list removal revokes nothing', () => {
    const a = new IntradayAdditions();
    a.remove(1, 1000);
    expect(a.revokedAt(1)).toBeNull();
  });
});
