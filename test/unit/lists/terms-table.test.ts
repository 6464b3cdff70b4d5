/**
 * The compact terms table (lists/terms-table.ts): against a Map updated line by line (the accumulator's
 * former model: the latest consent wins, the later line on a tie), and its parts' validation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/core/errors.js';
import { TermsBuilder, TermsTable } from '../../../src/lists/terms-table.js';
import { codeOf } from '../../helpers/errors.js';

// A small key space, so that a number listed several times is common.
const lineArb = fc.record({
  key: fc.integer({ min: 33_600_000_000, max: 33_600_000_030 }),
  at: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
  // Non-ASCII too: the table packs UTF-8.
  text: fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'é', '\t', '7', '€', '😀') }),
});

describe('TermsTable', () => {
  it('keeps what a Map updated line by line keeps: the latest consent, the later line on a tie', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 200 }), fc.array(fc.integer({ min: 33_600_000_000, max: 33_600_000_040 }), { maxLength: 40 }), (lines, probes) => {
        const model = new Map<number, { at: number; text: string }>();
        const builder = new TermsBuilder(1);
        for (const l of lines) {
          const at = l.at ?? Number.NEGATIVE_INFINITY;
          const previous = model.get(l.key);
          if (previous === undefined || at >= previous.at) model.set(l.key, { at, text: l.text });
          builder.add(l.key, l.at, l.text);
        }
        const table = builder.build();
        expect(table.size).toBe(model.size);
        for (const k of [...model.keys(), ...probes]) {
          expect(table.get(k)).toBe(model.get(k)?.text);
          expect(table.has(k)).toBe(model.has(k));
        }
        expect([...table]).toEqual([...model].map(([k, v]) => [k, v.text]).sort((a, b) => (a[0] as number) - (b[0] as number)));
        // The parts travel (a worker transfers them) and are taken back as they are.
        expect([...TermsTable.fromParts(table.parts())]).toEqual([...table]);
      }),
      { numRuns: 300 },
    );
  });

  it('is empty when nothing was added', () => {
    const table = new TermsBuilder().build();
    expect(table.size).toBe(0);
    expect(table.get(33612345678)).toBeUndefined();
    expect(TermsTable.EMPTY.size).toBe(0);
  });

  it('refuses parts that are not a table (unsorted keys, offsets that do not fit the bytes)', () => {
    const bytes = new TextEncoder().encode('ab');
    expect(codeOf(() => TermsTable.fromParts({ keys: Float64Array.of(2, 1), ends: Float64Array.of(0, 1, 2), bytes }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => TermsTable.fromParts({ keys: Float64Array.of(1, 1), ends: Float64Array.of(0, 1, 2), bytes }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => TermsTable.fromParts({ keys: Float64Array.of(1, 2), ends: Float64Array.of(0, 2, 1), bytes: new TextEncoder().encode('a') }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => TermsTable.fromParts({ keys: Float64Array.of(1, 2), ends: Float64Array.of(0, 1, 3), bytes }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => TermsTable.fromParts({ keys: Float64Array.of(1), ends: Float64Array.of(0, 2), bytes }))).toBeUndefined();
  });
});
