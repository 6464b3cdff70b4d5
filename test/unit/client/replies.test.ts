/**
 * Reading reply frames (src/client/replies.ts): the server's own encoders read back exactly, and nothing
 * malformed ever reads as an allow.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBatchReply, encodeCheckReply, encodeErrorReply, encodeOutcomeReply } from '../../../src/check/protocol.js';
import { readReply } from '../../../src/client/replies.js';

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
});
