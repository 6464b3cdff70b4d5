import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequest, encodeCheckReply, encodeErrorReply } from '../../../src/check/protocol.js';
import { MAX_FRAME_KEYS, scanFrame, TOO_DEEP } from '../../../src/check/frame-shape.js';

const limits = { maxBatchSize: 100 };
const SEED = 20261202;

describe('request ids (issue 11 item 6)', () => {
  it('a safe integer or a short string comes back exactly as sent', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.string({ maxLength: 128 })), (id) => {
        const d = decodeRequest(JSON.stringify({ id, op: 'check', number: '0612345678' }), limits);
        expect(d.ok).toBe(true);
        if (!d.ok) return;
        const reply = JSON.parse(encodeCheckReply(d.request.id, { verdict: 'allow', reason: 'not_listed', number: '+33612345678' })) as { id: unknown };
        expect(reply.id).toStrictEqual(id);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('an integer past 2^53 is refused, not answered with a rounded id', () => {
    // 2^53 + 1 parses as 2^53: two different requests would get one reply id.
    for (const raw of ['9007199254740993', '9007199254740992', '-9007199254740993', '1e300', '12345678901234567890']) {
      const d = decodeRequest(`{"id":${raw},"op":"check","number":"0612345678"}`, limits);
      expect(d).toMatchObject({ ok: false, id: null });
    }
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }), fc.boolean(), (big, negative) => {
        const d = decodeRequest(`{"id":${negative ? '-' : ''}${big},"op":"check","number":"0612345678"}`, limits);
        expect(d).toMatchObject({ ok: false, id: null });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a fractional or overlong id is refused', () => {
    for (const id of [1.5, -0.25, 'x'.repeat(129)]) {
      expect(decodeRequest(JSON.stringify({ id, op: 'check', number: '0612345678' }), limits)).toMatchObject({ ok: false, id: null });
    }
  });
});

describe('duplicate keys (issue 11 item 6)', () => {
  it('a frame naming "number" twice is refused, whichever value a parser would keep', () => {
    const d = decodeRequest('{"id":1,"op":"check","number":"0612345678","number":"0699999999"}', limits);
    expect(d).toMatchObject({ ok: false, id: 1 });
    // An escaped spelling is the same key.
    expect(decodeRequest('{"id":2,"op":"check","number":"0612345678","numb\\u0065r":"0699999999"}', limits)).toMatchObject({ ok: false, id: 2 });
    // A duplicated id leaves no id to answer to.
    expect(decodeRequest('{"id":3,"id":4,"op":"check","number":"0612345678"}', limits)).toMatchObject({ ok: false, id: null });
  });

  it('any duplicated key is refused (property)', () => {
    const keys = ['id', 'op', 'number', 'numbers', 'campaign', 'dial', 'outcome', 'extra'];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.nat({ max: 4 }), fc.json(), (key, at, value) => {
        const fields = [['id', '5'], ['op', '"check"'], ['number', '"0612345678"']];
        fields.splice(Math.min(at, fields.length), 0, [key, value]);
        if (!fields.some(([k], i) => fields.findIndex(([j]) => j === k) !== i)) fields.push([key, value]);
        const text = `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
        expect(decodeRequest(text, limits).ok).toBe(false);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('frame shape before JSON.parse (issue 12 item 3)', () => {
  it('a 1 MB frame of "[" or of "{" is refused by shape', () => {
    for (const text of ['['.repeat(1 << 20), '{'.repeat(1 << 20), `{"id":1,"numbers":${'['.repeat(1 << 20)}`]) {
      expect(decodeRequest(text, limits)).toMatchObject({ ok: false });
    }
    expect(scanFrame(`{"id":1,"numbers":${'['.repeat(1 << 20)}`)).toBe(TOO_DEEP);
  });

  it('a request is a flat object; a batch a flat array of strings', () => {
    for (const text of ['{"id":1,"op":"check","number":{"x":1}}', '{"id":1,"op":"check","numbers":[["0612345678"]]}', '{"id":1,"op":"check","numbers":[{}]}', '[{"id":1}]', '"x"', '1']) {
      expect(decodeRequest(text, limits)).toMatchObject({ ok: false });
    }
    expect(decodeRequest('{"id":1,"op":"check","numbers":["0612345678", "0712345678"]}', limits)).toMatchObject({ ok: true });
    expect(decodeRequest('{"id":1,"op":"check","numbers":["0612345678", 5]}', limits)).toMatchObject({ ok: false, id: 1 });
  });

  it('strings that look like brackets or quotes do not fool the scan', () => {
    expect(decodeRequest('{"id":"[[[{\\"}","op":"check","number":"06 12 34 56 78 ]}"}', limits)).toMatchObject({ ok: true });
    expect(decodeRequest('{"id":"a\\\\","op":"check","number":"0612345678"}', limits)).toMatchObject({ ok: true, request: { id: 'a\\' } });
  });

  it(`more than ${MAX_FRAME_KEYS} fields are refused`, () => {
    const extra = Array.from({ length: MAX_FRAME_KEYS }, (_, i) => `"k${i}":0`).join(',');
    expect(decodeRequest(`{"id":1,"op":"check","number":"0612345678",${extra}}`, limits)).toMatchObject({ ok: false });
  });

  it('never throws and never accepts a nested value, on any JSON or any text (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ maxDepth: 4 }), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ id: 1, op: 'check', number: v }))), (text) => {
        const d = decodeRequest(text, limits);
        if (d.ok) {
          const m = JSON.parse(text) as Record<string, unknown>;
          for (const v of Object.values(m)) {
            if (Array.isArray(v)) expect(v.every((x) => typeof x === 'string')).toBe(true);
            else expect(v === null || typeof v !== 'object').toBe(true);
          }
        }
        // An error reply is always well-formed JSON.
        if (!d.ok) expect(() => JSON.parse(encodeErrorReply(d.id, 'bad_request', d.message)) as unknown).not.toThrow();
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('well-formed requests decode as before (property)', () => {
    const number = fc.stringMatching(/^[0-9 +.]{1,20}$/);
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.string({ maxLength: 20 })), number, fc.option(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { nil: undefined }), fc.boolean(), (id, n, campaign, dial) => {
        const d = decodeRequest(JSON.stringify({ id, op: 'check', number: n, campaign, dial }), limits);
        expect(d).toStrictEqual({ ok: true, request: { op: 'check', id, number: n, campaign: campaign ?? null, dial } });
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('campaign names (issue 12 item 6)', () => {
  it('a campaign with a TAB, a newline or another control character is refused', () => {
    for (const campaign of ['spring\tsale', 'spring\nsale', 'a\r', '\u0000', 'x\u007f', 'x\u0085', 'x\u2028y']) {
      expect(decodeRequest(JSON.stringify({ id: 9, op: 'check', number: '0612345678', campaign }), limits)).toMatchObject({ ok: false, id: 9 });
      expect(decodeRequest(JSON.stringify({ id: 9, op: 'outcome', number: '0612345678', outcome: 'answered', campaign }), limits)).toMatchObject({ ok: false, id: 9 });
    }
    expect(decodeRequest(JSON.stringify({ id: 9, op: 'check', number: '0612345678', campaign: 'Été 2026 – relance' }), limits)).toMatchObject({ ok: true });
  });
});
