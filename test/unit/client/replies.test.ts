/**
 * Reading reply frames (src/client/replies.ts): the server's own encoders read back exactly, nothing
 * malformed ever reads as an allow, and the scan of single-check replies reads what JSON.parse would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBatchReply, encodeCheckReply, encodeErrorReply, encodeOutcomeReply } from '../../../src/check/protocol.js';
import { readReply, readReplyParsed } from '../../../src/client/replies.js';

const SEED = 20261203;

describe('readReply', () => {
  it('reads what the server encodes', () => {
    expect(readReply(encodeCheckReply(7, { verdict: 'allow', reason: 'not_listed', number: '+33612345679' }))).toEqual({
      kind: 'check',
      id: 7,
      answer: { verdict: 'allow', reason: 'not_listed', number: '+33612345679' },
    });
    expect(readReply(encodeCheckReply(8, { verdict: 'allow', reason: 'consent', number: '+33612345679', basis: 'consent', retryAt: '2026-12-03T09:00:00+01:00' }))).toMatchObject({
      answer: { basis: 'consent', retryAt: '2026-12-03T09:00:00+01:00' },
    });
    expect(
      readReply(
        encodeBatchReply(9, [
          { verdict: 'block', reason: 'bloctel', number: '+33612345678' },
          { verdict: 'block', reason: 'invalid_number', number: null },
        ]),
      ),
    ).toEqual({
      kind: 'batch',
      id: 9,
      results: [
        { number: '+33612345678', verdict: 'block', reason: 'bloctel' },
        { number: null, verdict: 'block', reason: 'invalid_number' },
      ],
    });
    expect(readReply(encodeOutcomeReply(10, '+33612345678', 'refused'))).toEqual({ kind: 'outcome', id: 10, number: '+33612345678', outcome: 'refused' });
    expect(readReply(encodeErrorReply(11, 'overloaded', 'busy'))).toEqual({ kind: 'error', id: 11, error: { code: 'overloaded', message: 'busy' } });
    expect(readReply(encodeErrorReply(null, 'bad_request', 'frame is not valid JSON'))).toMatchObject({ kind: 'error', id: null });
  });

  it('an error reply with an unknown code is still an error, never a verdict', () => {
    expect(readReply('{"id":1,"error":{"code":"teapot"},"verdict":"allow","reason":"not_listed","number":null}')).toMatchObject({ kind: 'error', error: { code: 'internal' } });
  });

  it('refuses frames the protocol does not define', () => {
    for (const text of [
      '',
      'allow',
      '[]',
      'null',
      '{"id":1}',
      '{"id":1,"verdict":"ALLOW","reason":"not_listed","number":null}',
      '{"id":1,"verdict":"allow","number":null}',
      '{"id":1,"verdict":"allow","reason":"","number":null}',
      '{"id":1,"verdict":"allow","reason":"not_listed","number":5}',
      '{"id":1.5,"verdict":"allow","reason":"not_listed","number":null}',
      '{"id":{},"verdict":"allow","reason":"not_listed","number":null}',
      '{"verdict":"allow","reason":"not_listed","number":null}',
      '{"id":1,"results":[{"verdict":"allow","reason":"not_listed","number":null},{"verdict":"maybe","reason":"x","number":null}]}',
      '{"id":1,"results":"allow"}',
      '{"id":1,"ok":true,"number":"+33612345678","outcome":"hung_up"}',
      '{"id":1,"verdict":"allow","reason":"not_listed","number":null,"basis":7}',
    ]) {
      expect(readReply(text), text).toBeNull();
    }
  });

  it('reads an allow only from a frame whose verdict is exactly "allow" with a reason', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const r = readReply(text);
        if (r === null) return;
        const allows = r.kind === 'check' ? [r.answer.verdict] : r.kind === 'batch' ? r.results.map((e) => e.verdict) : [];
        if (!allows.includes('allow')) return;
        const m = JSON.parse(text) as Record<string, unknown>;
        expect('error' in m).toBe(false);
        if (r.kind === 'check') expect(m['verdict']).toBe('allow');
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('the scan of a single-check reply reads exactly what the parsed path reads, or leaves the frame to it', () => {
    // Check-reply shapes with hostile parts: escapes, quotes, control characters, odd ids, extra or
    // reordered keys, trailing bytes. Whatever the scan accepts must equal the parsed reading.
    const word = fc.oneof(
      { arbitrary: fc.constantFrom('not_listed', 'bloctel', '+33612345678', 'consent', '2026-12-03T09:00:00+01:00', '\u00e9t\u00e9'), weight: 4 },
      { arbitrary: fc.constantFrom('', 'a"b', 'a\\"b', 'a\\u0041', 'x\ny', 'a\\\\', 'x'.repeat(129)), weight: 1 },
      { arbitrary: fc.string({ maxLength: 6 }), weight: 1 },
    );
    const id = fc.oneof({ arbitrary: fc.nat().map(String), weight: 4 }, { arbitrary: fc.constantFrom('0', '01', '-3', '1.5', '1e3', '9007199254740991', '9007199254740992', '12345678901234567', '"s"', 'null'), weight: 1 });
    const verdict = fc.oneof({ arbitrary: fc.constantFrom('allow', 'block'), weight: 4 }, { arbitrary: word, weight: 1 });
    const num = fc.oneof({ arbitrary: word.map((w) => `"${w}"`), weight: 4 }, { arbitrary: fc.constantFrom('null', 'nul', '5'), weight: 1 });
    const tail = fc.oneof({ arbitrary: fc.constant('}'), weight: 4 }, { arbitrary: fc.constantFrom('} ', ' }', '}}', ',"x":1}', ',"error":{"code":"internal"}}', ''), weight: 1 });
    const frame = fc
      .tuple(id, verdict, word, num, fc.option(word), fc.option(word), tail, fc.integer({ min: 0, max: 5 }))
      .map(([i, v, reason, n, basis, retryAt, end, swap]) => {
        const head = swap === 0 ? `{"id":${i},"reason":"${reason}","verdict":"${v}"` : `{"id":${i},"verdict":"${v}","reason":"${reason}"`;
        return `${head},"number":${n}${basis === null ? '' : `,"basis":"${basis}"`}${retryAt === null ? '' : `,"retryAt":"${retryAt}"`}${end}`;
      });
    let checks = 0;
    fc.assert(
      fc.property(fc.oneof(frame, fc.json()), (text) => {
        const parsed = readReplyParsed(text);
        if (parsed?.kind === 'check') checks++;
        expect(readReply(text)).toEqual(parsed);
      }),
      { seed: SEED, numRuns: 5000 },
    );
    // The generator does reach well-formed check replies (those the scan reads), not only rejects.
    expect(checks).toBeGreaterThan(500);
  });
});
