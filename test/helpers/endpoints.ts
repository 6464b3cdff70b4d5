/**
 * A running service's supervision endpoints as tests read them: /readyz (status, reasons, alerts, lists)
 * and /api/alerts. Written once here rather than in each test file that waits on readiness or an alert.
 */
import type { Alert } from '../../src/supervision/alerts.js';

/** A reason /readyz gives for not being ready (whole gate or one list). */
export interface ReadyReason {
  readonly code: string;
  readonly list?: string;
  readonly message: string;
  readonly nextRetryAt?: string;
}

export interface Readyz {
  readonly status: number;
  readonly body: { ready: boolean; reasons: ReadyReason[]; alerts: Alert[]; lists: { name: string; loaded: boolean; reason: ReadyReason | null }[] };
}

export async function readyz(port: number): Promise<Readyz> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}

export async function alerts(port: number): Promise<Alert[]> {
  return ((await (await fetch(`http://127.0.0.1:${port}/api/alerts`)).json()) as { alerts: Alert[] }).alerts;
}
