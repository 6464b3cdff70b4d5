/**
 * Key names (src/redis/keys.ts): the layout under the prefix, name validators, fleet and calling-rule keys,
 * and the small fleet records read beside them (sidecar records, switch notices, change entries, stream ids).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EMPTY_FINGERPRINT, compareStreamIds, decodeChange, decodeEvent, decodeInUse, encodeInUse, encodeSwitchEvent, isStreamId } from '../../../src/redis/codecs.js';
import { bucketKey, bucketPattern, escapeGlob, filterKey, listsKey, markerKey, pointerKey, assertListName, assertGenerationId, assertPrefix, addedKey, assertInstanceId, assertIntradayKeys, assertLockName, assertWho, changesKey, eventsChannel, gensKey, lockKey, sidecarKey, sidecarsKey, assertConsumerKey, attemptsKey, refusalTtlMs, refusedKey } from '../../../src/redis/keys.js';
import { newGenerationId } from '../../../src/lists/generation.js';
import { refusalEndsAt } from '../../../src/rules/policy.js';
import { isCallgateError } from '../../../src/core/errors.js';

const MAX_KEY = 999_999_999_999_999; // 15 digits, the E.164 maximum

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCallgateError(err) ? err.code : 'not a CallgateError';
  }
  return undefined;
}

describe('key names', () => {
  it('lays keys out under the prefix', () => {
    expect(listsKey('callgate:')).toBe('callgate:lists');
    expect(pointerKey('callgate:', 'bloctel')).toBe('callgate:list:bloctel:current');
    expect(markerKey('callgate:', 'bloctel', 'g1')).toBe('callgate:gen:bloctel:g1:marker');
    expect(filterKey('callgate:', 'bloctel', 'g1')).toBe('callgate:gen:bloctel:g1:filter');
    expect(bucketKey('callgate:', 'bloctel', 'g1', '33.17')).toBe('callgate:gen:bloctel:g1:m:33.17');
  });

  it('escapes glob characters of the prefix in SCAN patterns', () => {
    expect(escapeGlob('a*b?c[d]e\\')).toBe('a\\*b\\?c\\[d\\]e\\\\');
    expect(bucketPattern('t[1]:', 'l', 'g')).toBe('t\\[1\\]:gen:l:g:m:*');
  });

  it('validates names', () => {
    expect(code(() => assertListName('bloctel_2-x'))).toBeUndefined();
    expect(code(() => assertListName('Bloctel'))).toBe('CALLGATE_ERR_LIST_NAME');
    expect(code(() => assertListName('a*'))).toBe('CALLGATE_ERR_LIST_NAME');
    expect(code(() => assertGenerationId('g*'))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => assertPrefix(''))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => assertPrefix('a b'))).toBe('CALLGATE_ERR_CONFIG');
  });

  it('makes time-sortable, valid generation ids', () => {
    const a = newGenerationId(1_700_000_000_000, new Uint8Array([0, 255, 16, 1]));
    const b = newGenerationId(1_700_000_000_001, new Uint8Array([0, 0, 0, 0]));
    expect(a).toBe(`${(1_700_000_000_000).toString(36).padStart(9, '0')}-00ff1001`);
    expect(a < b).toBe(true);
    expect(code(() => assertGenerationId(a))).toBeUndefined();
  });
});

describe('fleet keys', () => {
  it('lays fleet keys out under the prefix', () => {
    expect(gensKey('p:', 'bloctel')).toBe('p:list:bloctel:gens');
    expect(addedKey('p:', 'bloctel')).toBe('p:list:bloctel:added');
    expect(changesKey('p:')).toBe('p:changes');
    expect(eventsChannel('p:')).toBe('p:events');
    expect(sidecarKey('p:', 'pod-1')).toBe('p:sidecar:pod-1');
    expect(sidecarsKey('p:')).toBe('p:sidecars');
    expect(lockKey('p:', 'refresh')).toBe('p:lock:refresh');
  });

  it('validates instance ids, lock names, who and intraday keys', () => {
    expect(code(() => assertInstanceId('pod-7.eu-west:1'))).toBeUndefined();
    expect(code(() => assertInstanceId(''))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => assertInstanceId('a b'))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => assertInstanceId('a*'))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => assertLockName('refresh:bloctel'))).toBeUndefined();
    expect(code(() => assertLockName('refresh *'))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => assertLockName(''))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => assertWho('api:jane@example.com'))).toBeUndefined();
    expect(code(() => assertWho(''))).toBe('CALLGATE_ERR_BAD_REQUEST');
    expect(code(() => assertWho('a\nb'))).toBe('CALLGATE_ERR_BAD_REQUEST');
    expect(code(() => assertWho('x'.repeat(201)))).toBe('CALLGATE_ERR_BAD_REQUEST');
    expect(code(() => assertIntradayKeys([33_612_345_678, MAX_KEY]))).toBeUndefined();
    expect(code(() => assertIntradayKeys([0]))).toBe('CALLGATE_ERR_BAD_REQUEST');
    expect(code(() => assertIntradayKeys([1.5]))).toBe('CALLGATE_ERR_BAD_REQUEST');
    expect(code(() => assertIntradayKeys([2 ** 53]))).toBe('CALLGATE_ERR_BAD_REQUEST');
    expect(code(() => assertIntradayKeys([Number.NaN]))).toBe('CALLGATE_ERR_BAD_REQUEST');
  });

  it('orders stream ids numerically, beyond 2^53', () => {
    expect(isStreamId('1700000000000-0')).toBe(true);
    expect(isStreamId('1700000000000')).toBe(false);
    expect(isStreamId('$')).toBe(false);
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('10-2', '10-10')).toBe(-1);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(compareStreamIds('18446744073709551615-1', '18446744073709551615-0')).toBe(1);
    expect(compareStreamIds('0-0', '0-1')).toBe(-1);
  });

  it('round-trips sidecar records and refuses odd ones', () => {
    const inUse = [{ list: 'bloctel', generation: 'g1' }, { list: 'internal', generation: 'g2' }];
    expect(decodeInUse(encodeInUse(inUse))).toEqual(inUse);
    expect(decodeInUse(encodeInUse([]))).toEqual([]);
    expect(code(() => encodeInUse([{ list: 'Bad', generation: 'g' }]))).toBe('CALLGATE_ERR_LIST_NAME');
    for (const bad of ['', '{', 'null', '{"inUse":{}}', '{"inUse":[{"list":"a"}]}', '{"inUse":[{"list":"a","generation":"g*"}]}']) {
      expect(code(() => decodeInUse(bad))).toBe('CALLGATE_ERR_REDIS');
    }
  });

  it('round-trips switch notices and ignores anything else', () => {
    expect(decodeEvent(encodeSwitchEvent('bloctel', 'g1'))).toEqual({ type: 'switch', list: 'bloctel', generation: 'g1' });
    expect(decodeEvent('nope')).toBeNull();
    expect(decodeEvent('{"type":"other","list":"a","generation":"g"}')).toBeNull();
    expect(decodeEvent('{"type":"switch","list":"A","generation":"g"}')).toBeNull();
    expect(decodeEvent('7')).toBeNull();
  });

  it('decodes change entries strictly', () => {
    const flat = ['list', 'internal', 'op', 'add', 'keys', '33612345678,590690123456', 'who', 'api', 'at', '2025-02-01T03:04:05.678Z'];
    expect(decodeChange('1-0', flat)).toEqual({
      id: '1-0',
      list: 'internal',
      op: 'add',
      keys: [33_612_345_678, 590_690_123_456],
      who: 'api',
      at: '2025-02-01T03:04:05.678Z',
    });
    const patched = (i: number, v: string): string[] => flat.map((x, j) => (j === i ? v : x));
    expect(code(() => decodeChange('x', flat))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(1, 'Bad')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(3, 'clear')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(5, '')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(5, '1,,2')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(5, '0')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(5, '99999999999999999')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', patched(9, 'today')))).toBe('CALLGATE_ERR_REDIS');
    expect(code(() => decodeChange('1-0', flat.slice(0, 8)))).toBe('CALLGATE_ERR_REDIS');
  });

  it('knows the sha256 of nothing', () => {
    expect(EMPTY_FINGERPRINT).toBe(createHash('sha256').update(Buffer.alloc(0)).digest('hex'));
  });
});

describe('calling-rule keys', () => {
  it('lays consumer keys out under the prefix, as plain digits', () => {
    expect(refusedKey('p:', 33_612_345_678)).toBe('p:refused:33612345678');
    expect(attemptsKey('p:', 262_692_123_456)).toBe('p:attempts:262692123456');
    expect(attemptsKey('p:', MAX_KEY)).toBe('p:attempts:999999999999999');
  });

  it('refuses keys that are not positive safe integers', () => {
    expect(code(() => assertConsumerKey(33_612_345_678))).toBeUndefined();
    for (const bad of [0, -1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(code(() => assertConsumerKey(bad))).toBe('CALLGATE_ERR_BAD_REQUEST');
      expect(code(() => refusedKey('p:', bad))).toBe('CALLGATE_ERR_BAD_REQUEST');
      expect(code(() => attemptsKey('p:', bad))).toBe('CALLGATE_ERR_BAD_REQUEST');
    }
  });

  it('keeps a refusal key until the policy ends the no-call period, in every zone and across DST', () => {
    expect(refusalTtlMs(60)).toBe(61 * 86_400_000 + 3_600_000);
    expect(code(() => refusalTtlMs(0))).toBe('CALLGATE_ERR_CONFIG');
    expect(code(() => refusalTtlMs(1.5))).toBe('CALLGATE_ERR_CONFIG');
    const zones = ['Europe/Paris', 'Indian/Reunion', 'America/Martinique', 'America/Cayenne', 'Indian/Mayotte', 'America/Miquelon', 'America/New_York', 'Pacific/Chatham'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2023, 0, 1), max: Date.UTC(2035, 0, 1) }),
        fc.constantFrom(...zones),
        fc.integer({ min: 1, max: 120 }),
        (refusedAt, zone, days) => {
          const ends = refusalEndsAt(refusedAt, zone, days);
          return ends > refusedAt && ends <= refusedAt + refusalTtlMs(days);
        },
      ),
      { numRuns: 2000 },
    );
    // The worst case: refused just after local midnight on the eve of the autumn DST change.
    const paris = Date.UTC(2025, 9, 24, 22, 0, 1); // 25 Oct 2025 00:00:01 CEST
    expect(refusalEndsAt(paris, 'Europe/Paris', 60)).toBeLessThanOrEqual(paris + refusalTtlMs(60));
  });
});

