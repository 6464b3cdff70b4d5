/**
 * check/http-query.ts: the query of the HTTP check doors cannot change the number — a literal `+` and
 * `%2B` are a plus, any string survives its own encoding — and duplicate, unknown or malformed
 * parameters are refused with stable codes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeComponent, flagValue, MAX_QUERY_LENGTH, parseQuery, rawQueryOf } from '../../../src/check/http-query.js';

const CHECK = new Set(['number', 'campaign', 'dial']);

function params(query: string): Record<string, string> | string {
  const r = parseQuery(query, CHECK);
  return r.ok ? Object.fromEntries(r.params) : r.error.code;
}

describe('parseQuery', () => {
  it('keeps a literal + as a plus, and %2B too', () => {
    expect(params('number=+508411234')).toEqual({ number: '+508411234' });
    expect(params('number=%2B508411234')).toEqual({ number: '+508411234' });
    expect(params('number=%2b33612345678&campaign=winter&dial=1')).toEqual({ number: '+33612345678', campaign: 'winter', dial: '1' });
    // What URLSearchParams would have made of it: a space and a 9-digit number.
    expect(new URLSearchParams('number=+508411234').get('number')).toBe(' 508411234');
  });

  it('decodes %-escapes, and nothing else', () => {
    expect(params('number=06%2012%2034&campaign=a+b')).toEqual({ number: '06 12 34', campaign: 'a+b' });
    expect(params('campaign=caf%C3%A9')).toEqual({ campaign: 'café' });
  });

  it('refuses duplicates, unknown parameters, malformed escapes and oversize queries with codes', () => {
    expect(params('number=1&number=2')).toBe('duplicate_parameter');
    expect(params('number=1&numb%65r=2')).toBe('duplicate_parameter');
    expect(params('number=1&campain=x')).toBe('unknown_parameter');
    expect(params('number=%zz')).toBe('bad_query');
    expect(params('number=%E0%A4%A')).toBe('bad_query');
    expect(params('number=%C3')).toBe('bad_query');
    expect(params(`number=${'1'.repeat(MAX_QUERY_LENGTH)}`)).toBe('query_too_long');
    expect(params(Array.from({ length: 17 }, () => 'x=1').join('&'))).toBe('query_too_long');
  });

  it('skips empty pieces; a bare name is an empty value', () => {
    expect(params('')).toEqual({});
    expect(params('number=1&&dial=1&')).toEqual({ number: '1', dial: '1' });
    expect(params('dial')).toEqual({ dial: '' });
  });

  it('gives back any string its encoding carried, whatever it holds (& = + % #)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (number, campaign) => {
        const r = parseQuery(`number=${encodeURIComponent(number)}&campaign=${encodeURIComponent(campaign)}`, CHECK);
        expect(r.ok && Object.fromEntries(r.params)).toEqual({ number, campaign });
      }),
    );
  });

  it('cannot change a number written unencoded with + and digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\+?[0-9]{1,15}$/), (number) => {
        const r = parseQuery(`number=${number}&campaign=winter`, CHECK);
        expect(r.ok && r.params.get('number')).toBe(number);
      }),
    );
  });
});

describe('helpers', () => {
  it('rawQueryOf takes the raw query, without the fragment', () => {
    expect(rawQueryOf('/v1/check?number=+33&dial=1#x')).toBe('number=+33&dial=1');
    expect(rawQueryOf('/v1/check')).toBe('');
  });

  it('rawQueryOf reads no query inside the fragment, as the URL parser (and the route lookup) do', () => {
    for (const t of ['/v1/check#x?number=0612345678', '/v1/check?number=+33#x?dial=1', '/v1/check?#number=1', '/#?token=x', '/v1/check?a=1', 'http://h/v1/check?a#b?c']) {
      const url = new URL(t, 'http://localhost');
      expect(rawQueryOf(t), t).toBe(url.search.slice(1));
    }
  });

  it('decodeComponent leaves + alone', () => {
    expect(decodeComponent('a+b%2Bc')).toBe('a+b+c');
    expect(decodeComponent('%')).toBeNull();
  });

  it('decodeComponent reads every text as decodeURIComponent does (its ASCII escapes are decoded without it)', () => {
    const strict = (s: string): string | null => {
      try {
        return decodeURIComponent(s);
      } catch {
        return null;
      }
    };
    for (const s of ['%2B33', '%2b33%20', '%00%7F%7f', '%80', '%C3%A9', '%C3', '%E2%82%AC%2B', '%2', '%G0', '%0G', 'a%', '%%20', '%2520', '%7e%7E']) {
      expect(decodeComponent(s), s).toBe(strict(s));
    }
    const piece = fc.oneof(
      fc.constantFrom('%', '+', '&', '=', ' ', '0', 'a', 'F', 'g', '%2', '%C3', '%A9', '%E2%82', '%AC', '%ZZ'),
      fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
      fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const s = pieces.join('');
        expect(decodeComponent(s)).toBe(strict(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('flagValue reads 1/0, true/false, yes/no', () => {
    expect(['1', 'true', 'YES'].map(flagValue)).toEqual([true, true, true]);
    expect(['0', 'false', 'no'].map(flagValue)).toEqual([false, false, false]);
    expect(flagValue('maybe')).toBeNull();
  });
});
