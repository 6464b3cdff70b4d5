import type { IncomingMessage } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_ROUTE_KEYS, dashboardRoutes, type DashboardReply } from '../../../src/supervision/dashboard-assets.js';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';
import type { RouteHandler } from '../../../src/server/http-server.js';

function fakeReq(headers: Record<string, string> = {}): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

async function get(routes: Map<string, RouteHandler>, key: string, path: string, headers: Record<string, string> = {}): Promise<DashboardReply> {
  const handler = routes.get(key);
  if (handler === undefined) throw new Error(`no route ${key}`);
  return (await handler(fakeReq(headers), new URL(path, 'http://localhost'))) as DashboardReply;
}

function text(reply: DashboardReply): string {
  return Buffer.isBuffer(reply.body) ? reply.body.toString('utf8') : String(reply.body);
}

describe('dashboardRoutes', () => {
  const routes = dashboardRoutes({ token: null });

  it('serves exactly the five dashboard routes', () => {
    expect([...routes.keys()].sort()).toEqual([...DASHBOARD_ROUTE_KEYS].sort());
  });

  it('gives each file its content type', async () => {
    const expected: Record<string, string> = {
      '/dashboard': 'text/html; charset=utf-8',
      '/dashboard/dashboard.js': 'text/javascript; charset=utf-8',
      '/dashboard/dashboard.css': 'text/css; charset=utf-8',
      '/dashboard/uplot.js': 'text/javascript; charset=utf-8',
      '/dashboard/uplot.css': 'text/css; charset=utf-8',
    };
    for (const [path, type] of Object.entries(expected)) {
      const reply = await get(routes, `GET ${path}`, path);
      expect(reply.status, path).toBe(200);
      expect(reply.contentType, path).toBe(type);
      expect(text(reply).length, path).toBeGreaterThan(100);
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('bundles uPlot from the installed package, not from a CDN', async () => {
    const js = text(await get(routes, 'GET /dashboard/uplot.js', '/dashboard/uplot.js'));
    expect(js).toContain('uPlot');
    const css = text(await get(routes, 'GET /dashboard/uplot.css', '/dashboard/uplot.css'));
    expect(css).toContain('.uplot');
    const html = text(await get(routes, 'GET /dashboard', '/dashboard'));
    expect(html).toContain('src="dashboard/uplot.js"');
    expect(html).toContain('href="dashboard/uplot.css"');
    expect(html).toContain('src="dashboard/dashboard.js"');
  });

  it('references no external host in our HTML, JS or CSS', async () => {
    for (const path of ['/dashboard', '/dashboard/dashboard.js', '/dashboard/dashboard.css']) {
      const body = text(await get(routes, `GET ${path}`, path));
      expect(body.match(/(?:https?|wss?):\/\/[^\s"'<>)]*/gi) ?? [], path).toEqual([]);
      expect(body, path).not.toMatch(/(?:src|href)\s*=\s*["']?\/\//i);
      expect(body, path).not.toMatch(/@import/i);
    }
  });

  it('keeps the HTML out of caches and lets the static files revalidate', async () => {
    const page = await get(routes, 'GET /dashboard', '/dashboard');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    const js = await get(routes, 'GET /dashboard/dashboard.js', '/dashboard/dashboard.js');
    expect(js.headers['cache-control']).toBe('no-cache');
    const etag = js.headers['etag'];
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get(routes, 'GET /dashboard/dashboard.js', '/dashboard/dashboard.js', { 'if-none-match': etag ?? '' });
    expect(again.status).toBe(304);
    expect(text(again)).toBe('');
  });

  it('with a token, serves the page only to whoever presents it; static files stay public', async () => {
    const guarded = dashboardRoutes({ token: 's3cret' });
    expect((await get(guarded, 'GET /dashboard', '/dashboard')).status).toBe(401);
    expect((await get(guarded, 'GET /dashboard', '/dashboard?token=wrong')).status).toBe(401);
    const denied = await get(guarded, 'GET /dashboard', '/dashboard?token=s3cre');
    expect(denied.status).toBe(401);
    expect(text(denied)).not.toContain('s3cret');
    const ok = await get(guarded, 'GET /dashboard', '/dashboard?token=s3cret');
    expect(ok.status).toBe(200);
    expect(text(ok)).toContain('id="block-rate-1m"');
    expect((await get(guarded, 'GET /dashboard/dashboard.js', '/dashboard/dashboard.js')).status).toBe(200);
  });

  it('the page carries the stable ids the browser tests rely on', async () => {
    const html = text(await get(routes, 'GET /dashboard', '/dashboard'));
    for (const id of ['block-rate-1m', 'block-rate-15m', 'checks-1m', 'campaigns', 'alerts', 'lists', 'sidecars', 'connection-state', 'last-updated', 'stale-warning', 'chart']) {
      expect(html, id).toContain(`id="${id}"`);
    }
  });

  it('fails at start-up, with a code, when a file is missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'callgate-dash-'));
    writeFileSync(join(empty, 'index.html'), '<!doctype html>');
    try {
      dashboardRoutes({ token: null, assetsDir: empty });
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(isCallgateError(err, ErrorCode.DASHBOARD_ASSETS)).toBe(true);
    }
  });
});
