import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServer } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { register } from './support/wire-client.ts';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const XSS = '<img src=x onerror=alert(1)>';
let server: ServerHandle;
let browser: Browser;
let page: Page;
const alerts: string[] = [];

interface Shown {
  mode: string;
  secrets: { id: string; label: string; weak: boolean }[];
}
async function cliState(): Promise<Shown> {
  return JSON.parse((await server.cli(['auth', 'show', '--json'])).stdout) as Shown;
}

async function save(): Promise<void> {
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect.poll(() => page.getByRole('status').textContent()).toMatch(/Saved/);
}

async function addSecret(opts: {
  secret?: string;
  label: string;
  generate?: boolean;
  useAnyway?: boolean;
}): Promise<string> {
  await page.getByRole('button', { name: 'Add Secret', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  if (opts.generate) await dialog.getByRole('button', { name: 'Generate' }).click();
  else await dialog.getByLabel('Auth Secret', { exact: true }).fill(opts.secret ?? '');
  await dialog.getByLabel('Label', { exact: true }).fill(opts.label);
  const value = await dialog.getByLabel('Auth Secret', { exact: true }).inputValue();
  await dialog.getByRole('button', { name: 'OK', exact: true }).click();
  if (opts.useAnyway) {
    await expect
      .poll(() => dialog.getByRole('alert').textContent())
      .toMatch(/does not meet the password rule/);
    await dialog.getByRole('button', { name: 'Use anyway' }).click();
  }
  await expect.poll(() => dialog.count()).toBe(0);
  return value;
}

beforeAll(async () => {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', (d) => {
    if (d.type() === 'confirm') {
      expect(d.message()).toMatch(/Command lines and scripts that carry it must be updated/);
      void d.accept();
    } else {
      alerts.push(d.message());
      void d.dismiss();
    }
  });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.proc.stop();
});

describe('the Client Authorization page in a real browser', () => {
  it('refuses a wrong token, typed or in the link', async () => {
    await page.goto(`${server.adminUrl}/admin/#token=wrong-token`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/token was refused/);
    await page.getByLabel('Admin token').fill('another-wrong-one');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/token was refused/);
  });

  it('signs in with the admin-url link, which leaves no token in the address bar', async () => {
    const link = (await server.cli(['admin-url'])).stdout.trim();
    expect(link).toMatch(/\/admin\/#token=/);
    await page.goto('about:blank');
    const response = await page.goto(link);
    expect(response?.headers()['content-security-policy']).toMatch(
      /default-src 'none'; script-src 'self'/,
    );
    await expect
      .poll(() => page.getByRole('heading', { name: 'Client Authorization' }).count())
      .toBe(1);
    expect(page.url()).not.toContain('token');
  });

  it.each([
    ['No Authorization', 'none'],
    ['Enable Internet Clients', 'internet'],
    ['Enable All Clients', 'all'],
  ])('switches to %s and saves; the command line agrees', async (name, mode) => {
    await page.getByRole('radio', { name, exact: true }).check();
    await expect.poll(() => page.getByText('Unsaved changes').count()).toBe(1);
    await save();
    expect((await cliState()).mode).toBe(mode);
    await expect.poll(() => page.getByText('Unsaved changes').count()).toBe(0);
  });

  it('adds a strong secret', async () => {
    await addSecret({ secret: 'Strong-Page-Secret-1', label: 'SCCM 2026' });
    await save();
    expect((await cliState()).secrets).toEqual([
      expect.objectContaining({ label: 'SCCM 2026', weak: false }),
    ]);
    expect(
      (
        await register(
          { kind: 'direct', url: server.url },
          { secret: 'Strong-Page-Secret-1', machineId: 'machine-one' },
        )
      ).ok,
    ).toBe(true);
  });

  it('refuses a weak secret until "use anyway", then audits it', async () => {
    await addSecret({ secret: 'weakone', label: 'pilot', useAnyway: true });
    await save();
    const state = await cliState();
    expect(state.secrets).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: 'pilot', weak: true })]),
    );
    const audit = await fetch(`${server.adminUrl}/admin/v1/audit?limit=50`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    }).then((r) => r.json() as Promise<{ outcome: string }[]>);
    expect(audit.map((a) => a.outcome)).toContain('added-weak');
  });

  it('generates a secret, shown once with a copy button, and it works', async () => {
    const generated = await addSecret({ generate: true, label: 'generated' });
    expect(generated).toMatch(/^[A-Za-z0-9]{24}$/);
    await save();
    expect((await cliState()).secrets).toHaveLength(3);
    expect(await page.content()).not.toContain(generated);
    expect(
      (
        await register(
          { kind: 'direct', url: server.url },
          { secret: generated, machineId: 'machine-two' },
        )
      ).ok,
    ).toBe(true);
  });

  it('removes a secret after a confirmation', async () => {
    const weak = (await cliState()).secrets.find((s) => s.label === 'pilot');
    await page
      .getByRole('row')
      .filter({ hasText: 'pilot' })
      .getByRole('button', { name: 'Remove' })
      .click();
    await save();
    const after = await cliState();
    expect(after.secrets.map((s) => s.id)).not.toContain(weak?.id);
    expect(after.secrets).toHaveLength(2);
  });

  it('shows a hostile label as text', async () => {
    await addSecret({ secret: 'Xss-Label-Secret-9', label: XSS });
    await save();
    await expect.poll(() => page.getByRole('cell', { name: XSS, exact: true }).count()).toBe(1);
    expect(await page.locator('table img').count()).toBe(0);
    expect(alerts).toEqual([]);
  });

  it('lists registered clients and the latest attempts', async () => {
    await register({ kind: 'direct', url: server.url }, { secret: 'Not-A-Valid-Secret-0' });
    await page.reload();
    await expect
      .poll(() => page.getByRole('heading', { name: /Registered clients: 2/ }).count())
      .toBe(1);
    const attempts = page.getByRole('region', { name: 'Latest registration attempts' });
    await expect
      .poll(() => attempts.getByRole('row').filter({ hasText: 'no-matching-share' }).count())
      .toBeGreaterThan(0);
    await expect
      .poll(() => attempts.getByRole('row').filter({ hasText: 'registered' }).count())
      .toBeGreaterThan(0);
  });

  it('is readable at 1280 and at 400 pixels wide (screenshots in test-artifacts/)', async () => {
    await page.screenshot({ path: join(ARTIFACTS, 'admin-page-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 400, height: 900 });
    await page.screenshot({ path: join(ARTIFACTS, 'admin-page-400.png'), fullPage: true });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    const weight = Object.fromEntries(
      ['index.html', 'app.js', 'app.css'].map((f) => [
        f,
        statSync(join(ROOT, 'dist/admin-ui', f)).size,
      ]),
    );
    console.log(`admin page weight (bytes): ${JSON.stringify(weight)}`);
    expect(readFileSync(join(ROOT, 'dist/admin-ui/index.html'), 'utf8')).not.toMatch(/https?:\/\//);
  });

  it('can be used from the keyboard: Tab reaches the radios, Space selects', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('radio', { name: 'Enable All Clients', exact: true }).focus();
    await page.keyboard.press('ArrowUp');
    expect(
      await page.getByRole('radio', { name: 'Enable Internet Clients', exact: true }).isChecked(),
    ).toBe(true);
    await page.keyboard.press('ArrowDown');
    await page.getByRole('button', { name: 'Add Secret', exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('dialog', { name: 'Add Secret' }).count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  });
});
