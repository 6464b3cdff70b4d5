import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUCKET_LAYOUT, bucketsOfPart, planBuckets, MAX_INTSET_ENTRIES, bucketCount, bucketIdOf, highOf, keyOf, memberOf, mix32 } from '../../../src/redis/bucketing.js';
import { CHANGE_FORMAT_FIELD, FORMAT_VERSION, decodeFormat, decodeMarker, encodeMarker, EMPTY_FINGERPRINT, compareStreamIds, decodeChange, decodeEvent, decodeInUse, encodeInUse, encodeSwitchEvent, isStreamId } from '../../../src/redis/codecs.js';
import { bucketKey, bucketPattern, escapeGlob, filterKey, listsKey, markerKey, pointerKey, assertListName, assertGenerationId, assertPrefix, addedKey, assertInstanceId, assertIntradayKeys, assertLockName, assertWho, changesKey, eventsChannel, gensKey, lockKey, sidecarKey, sidecarsKey, assertConsumerKey, attemptsKey, refusalTtlMs, refusedKey } from '../../../src/redis/keys.js';
import { newGenerationId } from '../../../src/lists/generation.js';
import { refusalEndsAt } from '../../../src/rules/policy.js';
import type { GenerationMarker } from '../../../src/redis/codecs.js';
import { isCallgateError } from '../../../src/core/errors.js';

const MAX_KEY = 999_999_999_999_999; // 15 digits, the E.164 maximum

const marker: GenerationMarker = {
  list: 'bloctel',
  kind: 'deny',
  generation: '0m1abcdef-0a1b2c3d',
  count: 12_000_000,
  normaliserVersion: 'v1',
  hashId: 'murmur3-k7',
  fingerprint: 'a'.repeat(64),
  sourceDate: '2025-01-31',
  buckets: 60_000,
  createdAt: '2025-02-01T03:04:05.678Z',
  filterBytes: 21_000_000,
  // Layout 1, no version field: the marker callgate wrote before formats were versioned.
  layout: 1,
  format: 1,
};

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

describe('bucketing', () => {
  it('sizes buckets near 200', () => {
    expect(bucketCount(0)).toBe(1);
    expect(bucketCount(1)).toBe(1);
    expect(bucketCount(200)).toBe(1);
    expect(bucketCount(201)).toBe(2);
    expect(bucketCount(12_000_000)).toBe(60_000);
  });

  it('splits keys exactly, even at the 15-digit edge', () => {
    for (const key of [0, 1, 999_999_999, 1_000_000_000, 33_612_345_678, 999_999_999_999_999, 8_999_999_999_999, 5_999_999_999_999]) {
      expect(highOf(key) * 1e9 + memberOf(key)).toBe(key);
      expect(Number.isInteger(highOf(key))).toBe(true);
      expect(memberOf(key)).toBeLessThan(2 ** 31);
    }
    expect(highOf(999_999_999_999_999)).toBe(999_999);
    expect(memberOf(999_999_999_999_999)).toBe(999_999_999);
  });

  it('is a bijection: (bucket, member) gives the key back, different keys never share both', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_KEY }),
        fc.integer({ min: 0, max: MAX_KEY }),
        fc.integer({ min: 1, max: 100_000 }),
        (a, b, buckets) => {
          const ba = bucketIdOf(a, buckets);
          expect(keyOf(ba, memberOf(a))).toBe(a);
          if (a !== b) expect(ba === bucketIdOf(b, buckets) && memberOf(a) === memberOf(b)).toBe(false);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('keeps buckets of French mobile numbers far under 512', () => {
    const count = 200_000;
    const buckets = bucketCount(count);
    const sizes = new Map<string, number>();
    let x = 12345;
    const seen = new Set<number>();
    while (seen.size < count) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      seen.add(33_600_000_000 + (x % 200_000_000)); // +336 and +337 blocks
    }
    for (const key of seen) {
      const id = bucketIdOf(key, buckets);
      sizes.set(id, (sizes.get(id) ?? 0) + 1);
    }
    const max = Math.max(...sizes.values());
    expect(max).toBeLessThan(300);
    expect(max).toBeLessThanOrEqual(MAX_INTSET_ENTRIES);
    expect(sizes.size).toBe(buckets);
  });

  it('mixes sequential members across buckets', () => {
    const hits = new Uint32Array(10);
    for (let m = 0; m < 10_000; m++) (hits[mix32(m) % 10] as number)++;
    for (const h of hits) expect(Math.abs(h - 1000)).toBeLessThan(150);
  });
});

describe('marker', () => {
  it('round-trips', () => {
    expect(decodeMarker(encodeMarker(marker), { list: 'bloctel', generation: marker.generation })).toEqual(marker);
    const { sourceDate: _, ...noDate } = marker;
    expect(decodeMarker(encodeMarker({ ...noDate }))).toEqual({ ...noDate, sourceDate: undefined });
  });

  it('rejects what it does not understand', () => {
    const fields = encodeMarker(marker);
    const broken = (patch: Record<string, string | undefined>): string | undefined => {
      const copy: Record<string, string> = { ...fields };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete copy[k];
        else copy[k] = v;
      }
      return code(() => decodeMarker(copy, { list: 'bloctel', generation: marker.generation }));
    };
    expect(broken({})).toBeUndefined();
    expect(broken({ count: undefined })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ count: '-1' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ count: '1.5' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ buckets: '59999' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ kind: 'maybe' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ layout: '2' })).toBe('CALLGATE_ERR_REDIS'); // layout 2 without its parts
    expect(broken({ layout: undefined })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ list: 'other' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ fingerprint: 'xyz' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ createdAt: 'yesterday' })).toBe('CALLGATE_ERR_REDIS');
    expect(broken({ hashId: '' })).toBe('CALLGATE_ERR_REDIS');
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

describe('stored formats (issue 11, item 7)', () => {
  const v2: GenerationMarker = {
    ...marker,
    count: 12_000_010,
    buckets: { total: 60_001, parts: new Map([[33, 60_000], [447, 1]]) },
    layout: 2,
    format: FORMAT_VERSION,
  };

  it('reads every version up to its own, refuses a newer one with CALLGATE_ERR_FORMAT', () => {
    expect(decodeFormat(undefined, 'x')).toBe(1);
    expect(decodeFormat('', 'x')).toBe(1);
    expect(decodeFormat('1', 'x')).toBe(1);
    expect(decodeFormat(String(FORMAT_VERSION), 'x')).toBe(FORMAT_VERSION);
    for (const newer of [String(FORMAT_VERSION + 1), '999', 'v3', '2.5', '0', '-1']) expect(code(() => decodeFormat(newer, 'x'))).toBe('CALLGATE_ERR_FORMAT');
  });

  it('round-trips a layout-2 marker with its per-part bucket counts, and still reads a format-1 marker', () => {
    const fields = encodeMarker(v2);
    expect(fields).toMatchObject({ format: String(FORMAT_VERSION), layout: '2', buckets: '60001', parts: '33:60000,447:1' });
    expect(decodeMarker(fields)).toEqual(v2);
    // Written by main (no version field, one bucket count): read as format 1, layout 1.
    const old = encodeMarker(marker);
    expect(old['format']).toBeUndefined();
    expect(decodeMarker(old)).toEqual(marker);
  });

  it('refuses a newer marker as too new (not merely invalid), and a layout-2 marker whose parts do not add up', () => {
    const fields = encodeMarker(v2);
    const with_ = (patch: Record<string, string>): string | undefined => code(() => decodeMarker({ ...fields, ...patch }));
    expect(with_({ format: String(FORMAT_VERSION + 1) })).toBe('CALLGATE_ERR_FORMAT');
    // A newer format may change any field: its version is read first.
    expect(with_({ format: String(FORMAT_VERSION + 1), count: 'many', kind: 'other' })).toBe('CALLGATE_ERR_FORMAT');
    expect(with_({ layout: String(BUCKET_LAYOUT + 1) })).toBe('CALLGATE_ERR_FORMAT');
    expect(with_({ parts: '33:60000,447:2' })).toBe('CALLGATE_ERR_REDIS');
    expect(with_({ parts: '447:1,33:60000' })).toBe('CALLGATE_ERR_REDIS');
    expect(with_({ parts: '33:60000;447:1' })).toBe('CALLGATE_ERR_REDIS');
  });

  it('plans a bucket count per part: a part with few numbers gets few buckets', () => {
    const keys = [...Array.from({ length: 1000 }, (_, i) => 33_600_000_000 + i * 7), 447_911_123_456, 447_911_123_457].sort((a, b) => a - b);
    const plan = planBuckets(keys);
    expect(plan).toEqual({ total: 6, parts: new Map([[33, 5], [447, 1]]) });
    expect(bucketsOfPart(plan, 33)).toBe(5);
    expect(bucketsOfPart(plan, 1)).toBe(0);
    expect(bucketsOfPart(7, 1)).toBe(7);
  });

  it('stream entries: no version is format 1, a newer one is refused before any other field is read', () => {
    const flat = ['list', 'internal', 'op', 'add', 'keys', '33612345678', 'who', 'api', 'at', '2025-02-01T03:04:05.678Z'];
    expect(decodeChange('1-0', [...flat, CHANGE_FORMAT_FIELD, String(FORMAT_VERSION)]).keys).toEqual([33_612_345_678]);
    expect(code(() => decodeChange('1-0', [...flat, CHANGE_FORMAT_FIELD, String(FORMAT_VERSION + 1)]))).toBe('CALLGATE_ERR_FORMAT');
    expect(code(() => decodeChange('1-0', ['op', 'purge', CHANGE_FORMAT_FIELD, '9']))).toBe('CALLGATE_ERR_FORMAT');
  });
});
