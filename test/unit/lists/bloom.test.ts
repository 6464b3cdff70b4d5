import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FILTER_HASH_ID, NumberFilter } from '../../../src/lists/bloom.js';
import { ErrorCode } from '../../../src/core/errors.js';
import { codeOf } from '../../helpers/errors.js';

// Deterministic pseudo-random French-looking keys (33 + 9 digits) without a dependency.
function randomKeys(count: number, seed: number): Float64Array {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = 33_000_000_000 + Math.floor(next() * 1_000_000_000);
  return keys;
}


const keyArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

describe('NumberFilter', () => {
  it('never gives a false negative', () => {
    fc.assert(
      fc.property(fc.array(keyArb, { minLength: 1, maxLength: 300 }), fc.double({ min: 0.0001, max: 0.5, noNaN: true }), (keys, rate) => {
        const filter = NumberFilter.create(keys.length, rate);
        for (const key of keys) filter.add(key);
        for (const key of keys) {
          expect(filter.has(key)).toBe(true);
          expect(filter.hasViaLibrary(key)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the library has() on members and non-members', () => {
    const filter = NumberFilter.create(1000, 0.05);
    const members = randomKeys(1000, 7);
    for (const key of members) filter.add(key);
    for (const key of [...members, ...randomKeys(5000, 8)]) expect(filter.has(key)).toBe(filter.hasViaLibrary(key));
  });

  it('keeps the measured false-positive rate near the configured rate (200k keys, 0.1%)', () => {
    const n = 200_000;
    const filter = NumberFilter.create(n, 0.001);
    const members = randomKeys(n, 1);
    for (const key of members) filter.add(key);
    const memberSet = new Set(members);
    let positives = 0;
    let probes = 0;
    for (const key of randomKeys(400_000, 2)) {
      if (memberSet.has(key)) continue;
      probes++;
      if (filter.has(key)) positives++;
    }
    const rate = positives / probes;
    // Expected ~0.001 (~400 hits): a binomial 3-sigma band is about ±0.00015.
    expect(rate).toBeGreaterThan(0.0005);
    expect(rate).toBeLessThan(0.0015);
    expect(filter.byteLength / n).toBeLessThan(2);
  });

  it('answers "no" for everything when empty, including a filter sized for 0 items', () => {
    const filter = NumberFilter.create(0, 0.001);
    for (const key of randomKeys(1000, 3)) expect(filter.has(key)).toBe(false);
    expect(NumberFilter.fromBinary(filter.toBinary()).has(33612345678)).toBe(false);
  });

  it('exposes its sizing and hash identity', () => {
    const filter = NumberFilter.create(10_000, 0.001);
    expect(filter.hashId).toBe(FILTER_HASH_ID);
    expect(filter.hashes).toBe(10);
    expect(filter.bits).toBe(143_776);
    expect(filter.byteLength).toBe(Math.ceil(filter.bits / 8));
  });

  it('round-trips through toBinary/fromBinary with identical answers', () => {
    const filter = NumberFilter.create(5000, 0.01);
    for (const key of randomKeys(5000, 4)) filter.add(key);
    const bin = filter.toBinary();
    expect(bin.length).toBeLessThan(filter.byteLength + 100);
    const copy = NumberFilter.fromBinary(bin);
    expect([copy.bits, copy.hashes, copy.count, copy.hashId]).toEqual([filter.bits, filter.hashes, 5000, FILTER_HASH_ID]);
    for (const key of [...randomKeys(5000, 4), ...randomKeys(20_000, 5)]) expect(copy.has(key)).toBe(filter.has(key));
    expect(copy.toBinary().equals(bin)).toBe(true);
  });

  describe('fromBinary rejects', () => {
    const filter = NumberFilter.create(1000, 0.01);
    for (const key of randomKeys(1000, 6)) filter.add(key);
    const good = filter.toBinary();
    const hashIdStart = 34;
    const payloadStart = hashIdStart + FILTER_HASH_ID.length;
    const mutated = (edit: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      edit(b);
      return b;
    };
    const cases: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      'short header': good.subarray(0, 20),
      'truncated hash id': good.subarray(0, hashIdStart + 3),
      'truncated payload': good.subarray(0, good.length - 1),
      'trailing bytes': Buffer.concat([good, Buffer.alloc(1)]),
      'bad magic': mutated((b) => b.write('XXXX', 0, 'latin1')),
      'other version': mutated((b) => b.writeUInt16LE(2, 4)),
      'zero hashes': mutated((b) => b.writeUInt16LE(0, 6)),
      'other seed': mutated((b) => b.writeUInt32LE(1, 8)),
      'bits do not match payload': mutated((b) => b.writeUIntLE(filter.bits + 64, 12, 6)),
      'flipped payload bit': mutated((b) => {
        b[payloadStart + 10] = b[payloadStart + 10]! ^ 0x01;
      }),
      'other hash id, same length': mutated((b) => b.write('x', hashIdStart, 'latin1')),
      'other hash id, other length': (() => {
        const other = Buffer.from('xxhash64-dh-v1', 'latin1');
        const b = Buffer.concat([good.subarray(0, hashIdStart), other, good.subarray(payloadStart)]);
        b.writeUInt16LE(other.length, 32);
        return b;
      })(),
    };
    for (const [name, buf] of Object.entries(cases)) {
      it(name, () => {
        expect(codeOf(() => NumberFilter.fromBinary(buf))).toBe(ErrorCode.FILTER_FORMAT);
      });
    }
  });

  it('rejects bad sizing and bad keys with codes', () => {
    expect(codeOf(() => NumberFilter.create(-1, 0.01))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => NumberFilter.create(10, 0))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => NumberFilter.create(10, 1))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => NumberFilter.create(1e9, 0.0001))).toBe(ErrorCode.CAPACITY);
    const filter = NumberFilter.create(10, 0.01);
    for (const bad of [Number.NaN, 1.5, -1, 2 ** 53]) expect(codeOf(() => filter.add(bad))).toBe(ErrorCode.CONFIG);
  });
});
