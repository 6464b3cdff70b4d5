/**
 * The supervisor dashboard's static files: our page (dashboard/ at the package root, plain browser
 * JS, no build step) and uPlot's prebuilt bundle, read once at start-up and served from memory, so
 * the page works on a wall screen with no internet and no disk access per request.
 *
 * The page itself holds no data: it fetches /api/stats and opens /stats with the token it was
 * opened with. With a read-only token configured, the HTML is refused without it too, so a
 * passer-by gets a plain "access denied" rather than an empty dashboard; the JS/CSS stay public
 * (they are the same for everyone and contain nothing secret).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { HttpReply, RouteHandler } from '../server/http-server.js';

export interface DashboardOptions {
  /** Read-only token the page must be opened with (`/dashboard?token=…`); null: open to anyone. */
  readonly token: string | null;
  /** Folder holding index.html, dashboard.js and dashboard.css. @default `<package root>/dashboard` */
  readonly assetsDir?: string;
  /** uPlot's `dist` folder. @default resolved from the installed `uplot` package */
  readonly uplotDistDir?: string;
}

/** A reply with extra response headers (cache validators, CSP), merged over http-server's defaults. */
export interface DashboardReply extends HttpReply {
  readonly headers: Readonly<Record<string, string>>;
}

export const DASHBOARD_ROUTE_KEYS = [
  'GET /dashboard',
  'GET /dashboard/dashboard.js',
  'GET /dashboard/dashboard.css',
  'GET /dashboard/uplot.js',
  'GET /dashboard/uplot.css',
] as const;

/**
 * The page loads only its own files and talks only to its own origin; the token rides in URLs, so
 * no Referer may carry it elsewhere. Also set as <meta> in the HTML (everything but frame-ancestors).
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': CSP,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
});

const DENIED_HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">' +
  '<title>callgate: access denied</title></head><body>' +
  '<h1>Access denied</h1><p>Open the dashboard with its read-only token: <code>/dashboard?token=…</code></p></body></html>';

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

function load(path: string, contentType: string): Asset {
  let body: Buffer;
  try {
    body = readFileSync(path);
  } catch (err) {
    throw new CallgateError(ErrorCode.DASHBOARD_ASSETS, `dashboard asset missing: expected a readable file at ${path}`, { cause: err });
  }
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return Object.freeze({ body, contentType, etag });
}

function defaultUplotDistDir(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('uplot/dist/uPlot.iife.min.js');
  } catch (err) {
    throw new CallgateError(ErrorCode.DASHBOARD_ASSETS, 'dashboard asset missing: the uplot package is not installed', { cause: err });
  }
  return dirname(entry);
}

/** Equal-length digests, so the comparison time says nothing about the token. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function ifNoneMatch(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined) return false;
  return header.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`);
}

/** Static files: revalidated on every load (cheap 304), so an upgrade is picked up at the next reload. */
function staticHandler(asset: Asset): RouteHandler {
  const headers = Object.freeze({ ...SECURITY_HEADERS, 'cache-control': 'no-cache', etag: asset.etag });
  const full: DashboardReply = Object.freeze({ status: 200, body: asset.body, contentType: asset.contentType, headers });
  const notModified: DashboardReply = Object.freeze({ status: 304, body: '', contentType: asset.contentType, headers });
  return (req) => (ifNoneMatch(req, asset.etag) ? notModified : full);
}

export function dashboardRoutes(options: DashboardOptions): Map<string, RouteHandler> {
  const dir = options.assetsDir ?? fileURLToPath(new URL('../../dashboard/', import.meta.url));
  const uplotDir = options.uplotDistDir ?? defaultUplotDistDir();

  const html = load(join(dir, 'index.html'), 'text/html; charset=utf-8');
  const js = load(join(dir, 'dashboard.js'), 'text/javascript; charset=utf-8');
  const css = load(join(dir, 'dashboard.css'), 'text/css; charset=utf-8');
  const uplotJs = load(join(uplotDir, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8');
  const uplotCss = load(join(uplotDir, 'uPlot.min.css'), 'text/css; charset=utf-8');

  const token = options.token;
  // The HTML is never cached: a cached copy would outlive a revoked token.
  const pageHeaders = Object.freeze({ ...SECURITY_HEADERS, 'cache-control': 'no-store' });
  const page: DashboardReply = Object.freeze({ status: 200, body: html.body, contentType: html.contentType, headers: pageHeaders });
  const denied: DashboardReply = Object.freeze({ status: 401, body: DENIED_HTML, contentType: 'text/html; charset=utf-8', headers: pageHeaders });
  const pageHandler: RouteHandler = (_req, url) => {
    if (token === null) return page;
    const given = url.searchParams.get('token');
    return given !== null && sameSecret(given, token) ? page : denied;
  };

  return new Map<string, RouteHandler>([
    ['GET /dashboard', pageHandler],
    ['GET /dashboard/dashboard.js', staticHandler(js)],
    ['GET /dashboard/dashboard.css', staticHandler(css)],
    ['GET /dashboard/uplot.js', staticHandler(uplotJs)],
    ['GET /dashboard/uplot.css', staticHandler(uplotCss)],
  ]);
}
