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
