/**
 * Who may run admin operations (refresh, list add/remove): with an admin token configured, any
 * client presenting it as `Authorization: Bearer …`; with none, loopback clients only — so a
 * sidecar published on 0.0.0.0 without a token cannot be driven from the network.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AdminDecision = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Constant-time comparison of two secrets. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function authoriseAdmin(req: IncomingMessage, token: string | null): AdminDecision {
  if (token === null) {
    return isLoopback(req.socket.remoteAddress)
      ? { ok: true }
      : { ok: false, status: 403, message: 'admin operations are accepted from loopback only when no admin token is configured' };
  }
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (m === null || m[1] === undefined || !sameSecret(m[1].trim(), token)) {
    return { ok: false, status: 401, message: 'admin token required: Authorization: Bearer <token>' };
  }
  return { ok: true };
}
