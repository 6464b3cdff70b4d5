import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChangeCommand } from '../../../src/admin/client.js';
import type { RunningService } from '../../../src/service.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { rawExchange, responseComplete, statusOf, UPGRADE_HEADERS } from '../../helpers/raw-http.js';
import { startEmbedded, tempDir, writeList } from '../../helpers/service.js';

type Service = RunningService & { url: string };

const JSON_TYPE = { 'content-type': 'application/json' };

describe('admin and stats routes refuse cross-site and rebinding requests (issue 12 item 4)', () => {
  let svc: Service;
  let client: CheckClient;
  let base: string;

  beforeAll(async () => {
    const dir = tempDir();
    writeList(['0612345678'], 'bloctel.txt', dir);
    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: 'bloctel.txt' }, { name: 'internal', kind: 'deny' }] }));
    svc = await startEmbedded(['--config', config, '--allowed-hosts', 'Sidecar.Internal, other.example']);
    client = await CheckClient.connect(svc.url);
    base = `http://127.0.0.1:${svc.port}`;
  });
  afterAll(async () => {
    await client.close();
    await svc.stop();
  });

  const verdictOf = async (n: string): Promise<string> => {
    const r = (await client.request({ op: 'check', number: n })) as unknown as { verdict: string; reason: string };
    return `${r.verdict}/${r.reason}`;
  };
  const raw = async (request: string): Promise<{ status: number | null; body: string }> => {
    const r = await rawExchange(svc.port, request, responseComplete);
    return { status: statusOf(r), body: r };
  };

  it('a text/plain POST (what a page may send without a preflight) cannot turn an opt-out into an allow', async () => {
    expect(await runChangeCommand('block', ['0750000001', '--url', base, '--who', 't'], {})).toBe(0);
    expect(await verdictOf('0750000001')).toBe('block/internal');
    const res = await fetch(`${base}/admin/unblock`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ numbers: ['0750000001'] }) });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    const none = await fetch(`${base}/admin/refresh`, { method: 'POST' });
    expect(none.status).toBe(415);
    expect(await verdictOf('0750000001')).toBe('block/internal');
  });

  it('a cross-site Origin or Sec-Fetch-Site is refused, even with a JSON body', async () => {
    const evil = await fetch(`${base}/admin/unblock`, { method: 'POST', headers: { ...JSON_TYPE, origin: 'http://evil.example' }, body: JSON.stringify({ numbers: ['0750000001'] }) });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toMatchObject({ error: { code: 'cross_site' } });
    const nul = await fetch(`${base}/admin/unblock`, { method: 'POST', headers: { ...JSON_TYPE, origin: 'null' }, body: JSON.stringify({ numbers: ['0750000001'] }) });
    expect(nul.status).toBe(403);
    const site = await fetch(`${base}/admin/unblock`, { method: 'POST', headers: { ...JSON_TYPE, 'sec-fetch-site': 'cross-site' }, body: JSON.stringify({ numbers: ['0750000001'] }) });
    expect(site.status).toBe(403);
    expect(await verdictOf('0750000001')).toBe('block/internal');
  });

  it('a DNS-rebinding Host is refused on every admin and stats route, and on the /stats socket', async () => {
    const host = `evil.example:${svc.port}`;
    const body = JSON.stringify({ numbers: ['0750000001'] });
    const post = await raw(
      `POST /admin/unblock HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(post.status).toBe(403);
    expect(post.body).toContain('"code":"forbidden_host"');
    for (const path of ['/api/stats', '/metrics', '/api/alerts', '/dashboard', '/dashboard/dashboard.js']) {
      const r = await raw(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(r.status, path).toBe(403);
      expect(r.body).toContain('"code":"forbidden_host"');
    }
    const ws = await raw(`GET /stats HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\n${UPGRADE_HEADERS}\r\n`);
    expect(ws.status).toBe(403);
    // A browser opening the check socket is held to the same rule.
    const check = await raw(`GET / HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\n${UPGRADE_HEADERS}\r\n`);
    expect(check.status).toBe(403);
    expect(await verdictOf('0750000001')).toBe('block/internal');
  });

  it('loopback names, IP literals, the configured hosts and probes are accepted; dialers need no Origin', async () => {
    for (const host of ['localhost', `localhost:${svc.port}`, `127.0.0.1:${svc.port}`, `[::1]:${svc.port}`, '10.1.2.3', 'sidecar.internal', `SIDECAR.INTERNAL.:${svc.port}`, 'other.example']) {
      const r = await raw(`GET /api/stats HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(r.status, host).toBe(200);
    }
    expect((await raw(`GET /healthz HTTP/1.1\r\nHost: anything.example\r\n\r\n`)).status).toBe(200);
    // Same-origin: the dashboard's own socket and requests.
    const stats = await raw(`GET /stats HTTP/1.1\r\nHost: 127.0.0.1:${svc.port}\r\nOrigin: http://127.0.0.1:${svc.port}\r\n${UPGRADE_HEADERS}\r\n`);
    expect(stats.status).toBe(101);
    // A dialer (no Origin) may name the sidecar however its network does.
    const dialer = await raw(`GET / HTTP/1.1\r\nHost: gate.dialer-net:${svc.port}\r\n${UPGRADE_HEADERS}\r\n`);
    expect(dialer.status).toBe(101);
  });

  it('the CLI admin client still works', async () => {
    expect(await runChangeCommand('unblock', ['0750000001', '--url', `http://localhost:${svc.port}`, '--who', 't'], {})).toBe(0);
    expect(await verdictOf('0750000001')).toBe('allow/not_listed');
  });
});
