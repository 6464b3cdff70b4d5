import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../../src/service.js';
import { rawExchange, responseComplete, statusOf, UPGRADE_HEADERS } from '../../helpers/raw-http.js';
import { startEmbedded, writeList } from '../../helpers/service.js';

describe('malformed HTTP requests get a 400 and the process lives (issue 12 item 1)', () => {
  let svc: RunningService;

  beforeAll(async () => {
    svc = await startEmbedded(['--list', `deny=${writeList(['0612345678'])}`]);
  });
  afterAll(async () => {
    await svc.stop();
  });

  const healthy = async (): Promise<void> => {
    const r = await rawExchange(svc.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(statusOf(r)).toBe(200);
  };

  it.each([
    ['a target the URL parser refuses', 'GET //[/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
    ['an absolute-form target with a bad port', 'GET http://127.0.0.1:99999/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
    ['an unclosed IPv6 literal', 'POST http://[::1/admin/unblock HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n'],
    ['the same on an upgrade request', `GET //[/ HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`],
    ['an upgrade with an absolute target and a bad port', `GET http://x:-1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`],
  ])('%s', async (_name, request) => {
    const r = await rawExchange(svc.port, request, responseComplete);
    expect(statusOf(r)).toBe(400);
    expect(r).toContain('"code":"bad_request"');
    await healthy();
  });

  it('a header the HTTP parser refuses gets a 400', async () => {
    const r = await rawExchange(svc.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n');
    expect(statusOf(r)).toBe(400);
    await healthy();
  });

  it('an upgrade to an unknown path gets a 404 with a code', async () => {
    const r = await rawExchange(svc.port, `GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`, responseComplete);
    expect(statusOf(r)).toBe(404);
    expect(r).toContain('"code":"not_found"');
  });

  it('a query string with broken percent escapes is read as text, not a crash', async () => {
    const r = await rawExchange(svc.port, 'GET /api/stats?token=%zz%&x=%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(statusOf(r)).toBe(200);
    await healthy();
  });

  it('a body that is not JSON, or JSON of the wrong shape, gets a 400 on an admin route', async () => {
    for (const body of ['{"numbers":', '[[[[[', '"x"', '{"list":"deny","numbers":[[]]}']) {
      const r = await rawExchange(
        svc.port,
        `POST /admin/lists/add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      expect(statusOf(r)).toBe(400);
    }
    await healthy();
  });
});

describe('request targets of the check doors: routed as the URL parser reads them, never around the token or the guard', () => {
  let svc: RunningService;
  const TOKEN = 'tok+en';

  beforeAll(async () => {
    svc = await startEmbedded(['--list', `deny=${writeList(['0612345678'])}`, '--check-token', TOKEN]);
  });
  afterAll(async () => {
    await svc.stop();
  });

  const get = (target: string, headers = 'Host: 127.0.0.1\r\n'): Promise<string> =>
    rawExchange(svc.port, `GET ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`, responseComplete);
  const withToken = `Host: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n`;
  const codeOf = (r: string): string | undefined => /"code":"([a-z_]+)"/.exec(r)?.[1];

  it('reaches the check door by every target the URL parser reads as /v1/check, with the token only, and blocks the number there', async () => {
    // Origin form (read without a URL object), absolute form, dot segments, a backslash (a slash to the parser).
    for (const path of ['/v1/check', 'http://evil.example/v1/check', 'http://127.0.0.1:1/v1/check', '/v1/./check', '/v1/x/../check', '/v1\\check']) {
      for (const number of ['0612345678', '%2B33612345678', '+33612345678', '%2b33612345678', '06%2012%2034%2056%2078']) {
        const target = `${path}?number=${number}`;
        const r = await get(target, withToken);
        expect({ target, status: statusOf(r), verdict: /x-callgate-verdict: (\w+)/i.exec(r)?.[1] }).toEqual({ target, status: 200, verdict: 'block' });
        const anonymous = await get(target);
        expect({ target, status: statusOf(anonymous), code: codeOf(anonymous) }).toEqual({ target, status: 401, code: 'unauthorized' });
      }
    }
  });

  it('reads no query inside a fragment (the route lookup does not either)', async () => {
    const r = await get('/v1/check#x?number=0612345678', withToken);
    expect({ status: statusOf(r), code: codeOf(r) }).toEqual({ status: 400, code: 'missing_parameter' });
  });

  it('routes no other spelling of the path to it', async () => {
    for (const path of ['/v1/check/', '/V1/check', '/v1//check', '//v1/check', '/v1%2Fcheck', '/v1/%63heck', '/v1/check;a', '/v1/check%3F', '*']) {
      const r = await get(`${path}?number=0612345678`, withToken);
      expect({ path, status: statusOf(r), code: codeOf(r) }).toEqual({ path, status: 404, code: 'not_found' });
    }
  });

  it('guards by the Host header whatever the target names, and remembers no stale answer past its memo', async () => {
    const absolute = await get('http://127.0.0.1/v1/check?number=0612345678', `Host: evil.example\r\nAuthorization: Bearer ${TOKEN}\r\n`);
    expect({ status: statusOf(absolute), code: codeOf(absolute) }).toEqual({ status: 403, code: 'forbidden_host' });
    // More Host texts than the memo holds (256), refused and accepted alternating, then each kind again.
    for (let i = 0; i < 300; i++) {
      const host = i % 2 === 0 ? `h${i}.evil.example` : `127.0.0.1:${1000 + i}`;
      expect({ host, status: statusOf(await get('/v1/check?number=0600000000', `Host: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\n`)) }).toEqual({ host, status: i % 2 === 0 ? 403 : 200 });
    }
    for (const [host, status] of [['EVIL.example', 403], ['evil.example:8080', 403], ['LOCALHOST:1', 200], ['localhost.', 200], ['h0.evil.example', 403], ['127.0.0.1:1001', 200]] as const) {
      expect({ host, status: statusOf(await get('/v1/check?number=0600000000', `Host: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\n`)) }).toEqual({ host, status });
    }
  });
});
