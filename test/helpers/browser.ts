/**
 * Headless Chromium for dashboard tests: Debian's /usr/bin/chromium driven by playwright-core (no
 * browser download, ever). Each page gets a fresh profile directory, removed afterwards, and may
 * talk to its own origin only: a request to any other host is aborted and reported, which is how
 * the tests prove the dashboard works on a wall screen without internet.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Overridable for machines where Chromium lives elsewhere. @default '/usr/bin/chromium' */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface PageOptions {
  /** @default { width: 1920, height: 1080 } (a wall screen) */
  readonly viewport?: { readonly width: number; readonly height: number };
  /** Navigation and default action timeout. @default 15_000 */
  readonly timeoutMs?: number;
}

export interface PageReport {
  /** console.error lines and uncaught page errors, in order. */
  readonly errors: string[];
  /** Requests to another origin than the page's, all aborted. */
  readonly externalRequests: string[];
}

/** Fails loudly (never skips) when Chromium is missing. */
export function assertChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it with 'apt-get update && apt-get install -y chromium' ` +
        `or set CHROMIUM_PATH (do not use 'npx playwright install').`,
    );
  }
}

async function launch(): Promise<{ context: BrowserContext; profileDir: string }> {
  assertChromium();
  const profileDir = mkdtempSync(join(tmpdir(), 'callgate-chromium-'));
  try {
    // launchPersistentContext is playwright's way of passing --user-data-dir (launch() refuses the flag).
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
    return { context, profileDir };
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Opens `url` in a fresh headless Chromium, runs `fn`, and closes everything whatever happens.
 * `fn` gets the page and a live report of errors and external requests to assert on.
 */
export async function withPage<T>(url: string, fn: (page: Page, report: PageReport) => Promise<T>, options: PageOptions = {}): Promise<T> {
  const { context, profileDir } = await launch();
  const report: PageReport = { errors: [], externalRequests: [] };
  try {
    const origin = new URL(url).origin;
    await context.route('**/*', (route) => {
      const target = route.request().url();
      if (target.startsWith('data:') || new URL(target).origin === origin) return route.continue();
      report.externalRequests.push(target);
      return route.abort('blockedbyclient');
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const timeoutMs = options.timeoutMs ?? 15_000;
    page.setDefaultTimeout(timeoutMs);
    await page.setViewportSize(options.viewport ?? { width: 1920, height: 1080 });
    page.on('console', (msg) => {
      if (msg.type() === 'error') report.errors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => report.errors.push(`pageerror: ${err.message}`));
    await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
    return await fn(page, report);
  } finally {
    await context.close().catch(() => undefined);
    rmSync(profileDir, { recursive: true, force: true });
  }
}
