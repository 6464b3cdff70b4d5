/**
 * parseTarget (server/http-server.ts): its fast path for origin-form targets reads every target as the
 * URL parser does, and a target the parser refuses is null, never a throw (issue 12).
 */
import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../../src/server/http-server.js';

/** The reading before the fast path: canParse, then parse. */
function reference(t: string): string | null {
  return URL.canParse(t, 'http://localhost') ? new URL(t, 'http://localhost').href : null;
}

describe('parseTarget', () => {
  const targets = [
    '/',
    '/v1/check?number=%2B33612345678&campaign=a',
    '/v1/check?number=+33 6 12',
    '/v1/../v1/check?x=1#frag',
    '/%zz',
    '/ a',
    '/\u0000x',
    '/\t/evil.example/x',
    '/\\evil.example/x',
    '/\\[',
    '//[/',
    '//evil.example/x',
    'http://127.0.0.1:99999/',
    'http://example.com/v1/check',
    '*',
    '',
  ];
  for (const t of targets) {
    it(`reads ${JSON.stringify(t)} as the URL parser does`, () => {
      expect(parseTarget(t)?.href ?? null).toBe(reference(t));
    });
  }

  it('takes a missing target as /', () => {
    expect(parseTarget(undefined)?.pathname).toBe('/');
  });

  it('refuses a backslash authority the parser cannot read, without throwing', () => {
    expect(parseTarget('/\\[')).toBeNull();
    expect(parseTarget('//[/')).toBeNull();
  });
});
