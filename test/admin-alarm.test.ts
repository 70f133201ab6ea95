/**
 * The guessing alarm as an administrator sees it: failed guesses from
 * several sources raise it, and the admin page shows it at the top, with
 * the merged refusals counted in the attempts table.
 */
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { register } from './support/wire-client.ts';

describe('the admin page shows the guessing alarm', () => {
  let server: ServerHandle;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServer({ args: ['--guess-alarm', '3'] });
    expect((await server.cli(['auth', 'secret', 'add'], 'Alarm-Secret-2026\n')).code).toBe(0);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.proc.stop();
  });

  it('no alarm, then three failed guesses from three addresses raise it', async () => {
    const page = await browser.newPage();
    try {
      await page.goto((await server.cli(['admin-url'])).stdout.trim());
      await page.getByRole('heading', { name: 'Client Authorization' }).waitFor();
      expect(await page.getByText(/^Alarm:/).count()).toBe(0);
      const route = { kind: 'direct' as const, url: server.url };
      for (const address of ['127.0.0.71', '127.0.0.72', '127.0.0.73']) {
        const out = await register(route, { secret: 'Wrong-Guess-2026', localAddress: address });
        expect(out).toMatchObject({ ok: false, code: 'invalid_secret' });
      }
      await page.reload();
      const alarm = page.getByRole('alert').filter({ hasText: /^Alarm:/ });
      await alarm.waitFor();
      expect(await alarm.textContent()).toMatch(/3 failed guesses of the authorization secret/);
      // The outcome and its reason in plain words (the reason code stays in the cell's title).
      const rows = page
        .getByRole('row')
        .filter({ hasText: 'failed guess' })
        .filter({ hasText: 'wrong or removed secret' });
      expect(await rows.count()).toBe(3);
    } finally {
      await page.close();
    }
  });
});
