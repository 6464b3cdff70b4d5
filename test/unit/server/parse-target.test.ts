/**
 * parseTarget (server/http-server.ts): its fast path for origin-form targets reads every target as the
 * URL parser does, and a target the parser refuses is null, never a throw (issue 12).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseTarget, plainPathname } from '../../../src/server/http-server.js';

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

describe('plainPathname', () => {
  const pathOf = (t: string): string | null => (URL.canParse(t, 'http://localhost') ? new URL(t, 'http://localhost').pathname : null);

  it('reads the path of the targets dialers send, and leaves every other target to the parser', () => {
    expect(plainPathname('/v1/check?number=%2B33612345678&campaign=a')).toBe('/v1/check');
    expect(plainPathname('/v1/check')).toBe('/v1/check');
    expect(plainPathname('/v1/check#x?y')).toBe('/v1/check');
    expect(plainPathname('/')).toBe('/');
    for (const t of ['', '*', '//evil.example/x', '/\\evil.example/x', '/v1/../v1/check', '/v1/./check', '/%761/check', '/ a', '/\tx', '/é', 'http://example.com/v1/check']) {
      expect(plainPathname(t), JSON.stringify(t)).toBeNull();
    }
  });

  it('whenever it reads a path, it is the URL parser\'s pathname (property)', () => {
    const char = fc.constantFrom('/', 'a', 'Z', '0', '-', '_', '~', '.', '%', '2', 'e', '?', '#', '&', '=', '+', ' ', '\t', '\\', '@', ':', '\u00e9', '\u0000');
    fc.assert(
      fc.property(fc.array(char, { maxLength: 16 }), (chars) => {
        const t = `/${chars.join('')}`;
        const p = plainPathname(t);
        if (p !== null) expect(p).toBe(pathOf(t));
      }),
      { numRuns: 20000 },
    );
  });
});
