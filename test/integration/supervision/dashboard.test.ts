/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core): it opens with the
 * read-only token, shows the block rate and the campaign table changing under traffic, and an alert
 * appearing when a refresh is refused. It loads nothing from outside the sidecar.
 */
import { writeFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { withPage } from '../../helpers/browser.js';
import { startEmbedded, tempDir, writeList } from '../../helpers/service.js';

describe('dashboard in headless Chromium', () => {
  it('shows live block rate, campaigns and a refused-refresh alert', async () => {
    const dir = tempDir();
    const listed = Array.from({ length: 50 }, (_, i) => `06123456${String(i).padStart(2, '0')}`);
    const list = writeList(listed, 'bloctel.txt', dir);
    const svc = await startEmbedded(['--list', `bloctel=${list}`, '--stats-token', 'wall']);
    const client = await CheckClient.connect(svc.url);
    const base = `http://127.0.0.1:${svc.port}`;
    try {
      expect((await fetch(`${base}/dashboard`)).status).toBe(401);
      await withPage(`${base}/dashboard?token=wall`, async (page, report) => {
        await page.waitForSelector('#connection-state[data-state="live"], #connection-state[data-state="polling"]');
        // Traffic: winter hits the list half the time, spring never.
        const checks: Promise<unknown>[] = [];
        for (let i = 0; i < 40; i++) checks.push(client.request({ op: 'check', number: i % 2 === 0 ? listed[i] : `0612346${String(i).padStart(3, '0')}`, campaign: 'winter' }));
        for (let i = 0; i < 20; i++) checks.push(client.request({ op: 'check', number: `0750000${String(i).padStart(3, "0")}`, campaign: "spring" }));
        await Promise.all(checks);

        const winter = page.locator('table#campaigns tbody tr[data-campaign="winter"]');
        await winter.waitFor();
        await expect.poll(async () => winter.locator('td[data-col="checks"]').textContent(), { timeout: 10_000 }).toMatch(/40/);
        await expect.poll(async () => winter.locator('td[data-col="blocked"]').textContent(), { timeout: 10_000 }).toMatch(/20/);
        await expect.poll(async () => Number(await page.locator('#block-rate-1m').getAttribute('data-value')), { timeout: 10_000 }).toBeCloseTo(20 / 60, 2);
        await expect(page.locator('table#campaigns tbody tr[data-campaign="spring"] td[data-col="blocked"]').textContent()).resolves.toMatch(/^0/);
        await page.locator('#lists tr[data-list="bloctel"]').waitFor();

        // A refused refresh (the new file is empty) raises an alert on the wall.
        writeFileSync(list, '');
        const refused = await fetch(`${base}/admin/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' } });
        expect(refused.status).toBe(409);
        await page.locator('#alerts li[data-alert-id="refresh_refused:bloctel"]').waitFor({ timeout: 10_000 });
        expect(await page.locator('#alerts li[data-alert-id="refresh_refused:bloctel"]').getAttribute('data-severity')).toBe('critical');

        // More traffic, then the screenshot the README shows.
        for (let i = 0; i < 30; i++) await client.request({ op: 'check', number: listed[i % 50] as string, campaign: 'autumn' });
        await expect.poll(async () => page.locator('table#campaigns tbody tr[data-campaign="autumn"]').count(), { timeout: 10_000 }).toBe(1);
        mkdirSync('.tmp', { recursive: true });
        await page.screenshot({ path: '.tmp/dashboard-under-traffic.png' });

        const text = (await page.textContent('body')) ?? '';
        expect(text).not.toMatch(/0?6\s?12\s?34\s?56/);
        expect(report.externalRequests).toEqual([]);
        expect(report.errors).toEqual([]);
      });
    } finally {
      await client.close();
      await svc.stop();
    }
  });
});
