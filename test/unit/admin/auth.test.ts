import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { authoriseAdmin, isLoopback } from '../../../src/admin/auth.js';

function req(remoteAddress: string | undefined, authorization?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: authorization === undefined ? {} : { authorization } } as unknown as IncomingMessage;
}

describe('admin authorisation without a token: loopback only', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])('accepts %s', (address) => {
    expect(isLoopback(address)).toBe(true);
    expect(authoriseAdmin(req(address), null)).toEqual({ ok: true });
  });

  it.each(['10.0.0.1', '192.168.1.10', '::ffff:10.0.0.1', '2001:db8::1', '0.0.0.0', '::', '1127.0.0.1'])('refuses %s with 403', (address) => {
    expect(isLoopback(address)).toBe(false);
    expect(authoriseAdmin(req(address), null)).toMatchObject({ ok: false, status: 403 });
  });

  it('refuses a socket with no address (already closed) with 403', () => {
    expect(authoriseAdmin(req(undefined), null)).toMatchObject({ ok: false, status: 403 });
  });

  it('ignores a bearer header when no token is configured (the address decides)', () => {
    expect(authoriseAdmin(req('10.0.0.1', 'Bearer anything'), null)).toMatchObject({ ok: false, status: 403 });
  });
});

describe('admin authorisation with a token', () => {
  const T = 's3cret-token';

  it('accepts the token from any address, case-insensitive scheme', () => {
    expect(authoriseAdmin(req('10.0.0.1', `Bearer ${T}`), T)).toEqual({ ok: true });
    expect(authoriseAdmin(req('127.0.0.1', `bearer ${T}`), T)).toEqual({ ok: true });
  });

  it.each([
    ['no header', undefined],
    ['a wrong token', 'Bearer nope'],
    ['a prefix of the token', `Bearer ${T.slice(0, -1)}`],
    ['the token with more after it', `Bearer ${T}x`],
    ['another scheme', `Basic ${T}`],
    ['the bare token', T],
    ['an empty bearer', 'Bearer '],
  ])('answers 401 to %s, even from loopback', (_what, header) => {
    expect(authoriseAdmin(req('127.0.0.1', header), T)).toMatchObject({ ok: false, status: 401 });
  });

  it('compares non-ASCII tokens by bytes without throwing', () => {
    expect(authoriseAdmin(req('127.0.0.1', 'Bearer é'), 'ab')).toMatchObject({ ok: false, status: 401 });
  });
});
