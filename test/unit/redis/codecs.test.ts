/**
 * Stored formats (src/redis/codecs.ts): generation markers (layouts 1 and 2), format versions, and the
 * refusal of what a reader does not understand, newer formats first.
 */
import { describe, expect, it } from 'vitest';
import { BUCKET_LAYOUT, bucketsOfPart, planBuckets } from '../../../src/redis/bucketing.js';
import { CHANGE_FORMAT_FIELD, FORMAT_VERSION, decodeChange, decodeFormat, decodeMarker, encodeMarker } from '../../../src/redis/codecs.js';
import type { GenerationMarker } from '../../../src/redis/codecs.js';
import { codeOf as code } from '../../helpers/errors.js';

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
