/**
 * Refuses HTTP requests a web page could make from a browser on the sidecar's host (issue 12 item
 * 4): a cross-site page (`Origin` of another origin, `Sec-Fetch-Site: cross-site`), and a DNS
 * rebinding page — its own name resolved to 127.0.0.1, so it is same-origin in the browser's eyes
 * but its `Host` header names it. Accepted hosts: loopback names, IP literals (a page served from an
 * IP is served by the sidecar itself), the listen host, this machine's name and a configured list.
 * Clients that are not browsers send no Origin and a Host they chose: the admin CLI and probes pass.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { HttpError, type RequestGuard } from './http-server.js';

export interface SiteGuardOptions {
  /** The configured listen address (`--host`). */
  readonly listenHost: string;
  /** Extra accepted host names (`--allowed-hosts`), lower case. */
  readonly allowedHosts: readonly string[];
}

/** Probes need no guard: they hold no data and change nothing. */
const UNGUARDED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Host header texts whose verdict is remembered (a fleet of dialers sends a handful; a scanner's are forgotten). */
const HOST_MEMO_SIZE = 256;
/** Longer texts are read each time (a DNS name has at most 253 characters): the memo holds at most ~64 KiB. */
const HOST_MEMO_MAX_LENGTH = 260;

/** The host name of a Host header value, lower case, without port or trailing dot; null if malformed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? null : h.slice(1, end);
  }
  const colon = h.lastIndexOf(':');
  const name = colon < 0 ? h : h.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function createSiteGuard(options: SiteGuardOptions): RequestGuard {
  const names = new Set<string>([options.listenHost.toLowerCase(), hostname().toLowerCase(), ...options.allowedHosts]);
  const readHost = (host: string): boolean => {
    const name = hostName(host);
    if (name === null) return false;
    return name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0 || names.has(name);
  };
  // The answer depends on the header's text alone, and a dialer sends the same Host on every request:
  // it is read once (isIP's patterns cost more than the rest of the guard), for a bounded number of texts.
  const seen = new Map<string, boolean>();
  let lastHost: string | null = null;
  let lastAllowed = false;
  const hostAllowed = (host: string): boolean => {
    // The last text first: comparing it costs less than hashing it.
    if (host === lastHost) return lastAllowed;
    if (host.length > HOST_MEMO_MAX_LENGTH) return readHost(host);
    let ok = seen.get(host);
    if (ok === undefined) {
      ok = readHost(host);
      if (seen.size >= HOST_MEMO_SIZE) seen.clear();
      seen.set(host, ok);
    }
    lastHost = host;
    lastAllowed = ok;
    return ok;
  };
  return (req: IncomingMessage, pathname: string, upgrade: boolean): HttpError | null => {
    if (UNGUARDED_PATHS.has(pathname)) return null;
    const headers = req.headers;
    const origin = headers.origin;
    // The check socket serves dialers, which are not browsers: guarded only when a browser opens it.
    if (upgrade && pathname === '/' && origin === undefined) return null;
    const host = headers.host;
    if (host !== undefined && !hostAllowed(host)) {
      return new HttpError(403, 'forbidden_host', `Host ${JSON.stringify(host.slice(0, 100))} is not accepted: use a loopback name, an IP address, the listen host or one of --allowed-hosts`);
    }
    if (headers['sec-fetch-site'] === 'cross-site') return new HttpError(403, 'cross_site', 'cross-site requests are refused');
    if (origin !== undefined && !sameOrigin(origin, host)) return new HttpError(403, 'cross_site', `requests from origin ${JSON.stringify(origin.slice(0, 100))} are refused`);
    return null;
  };
}

/** Whether `Origin` names the origin the request was sent to (scheme aside: TLS ends before us). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin)) return false;
  return new URL(origin).host === host.trim().toLowerCase();
}
