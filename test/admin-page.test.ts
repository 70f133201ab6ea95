import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { BIN, ROOT, runProc, startRelay, startServer, tempDir } from './support/procs.ts';
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
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.proc.stop();
});

/** Each test has a browser context of its own, signed in through the admin-url link. */
let context: BrowserContext;
/** The confirmation dialogs this test's page showed (accepted), and any other dialog (dismissed). */
let confirms: string[];
/** The "leave this page?" prompts this test's page raised (accepted). */
let leaves: number;
beforeEach(async () => {
  confirms = [];
  leaves = 0;
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('dialog', (d) => {
    if (d.type() === 'confirm') {
      confirms.push(d.message());
      void d.accept();
    } else if (d.type() === 'beforeunload') {
      leaves += 1;
      void d.accept();
    } else {
      alerts.push(d.message());
      void d.dismiss();
    }
  });
  const link = (await server.cli(['admin-url'])).stdout.trim();
  await page.goto(link);
  await expect
    .poll(() => page.getByRole('heading', { name: 'Client Authorization' }).count())
    .toBe(1);
});
afterEach(async () => {
  await context?.close();
});

/** Adds a secret on the command line (stdin), as another administrator might. */
async function addSecretByCli(label: string, secret: string): Promise<string> {
  const r = await server.cli(['auth', 'secret', 'add', '--label', label], `${secret}\n`);
  expect(r.code, r.stderr).toBe(0);
  return /added secret (\S+)/.exec(r.stdout)?.[1] as string;
}

describe('the Client Authorization page in a real browser', () => {
  it('says when nobody can register, and that no relay tunnel is configured', async () => {
    // The first test: the server is new, in mode all, without a secret.
    const status = page.getByRole('region', { name: 'Status' });
    await expect
      .poll(() => status.textContent())
      .toMatch(/Nobody can register.*needs a secret and none is active/);
    expect(await status.textContent()).toMatch(/Relay tunnel: not configured/);
  });

  it('refuses a wrong token, typed or in the link', async () => {
    page = await context.newPage();
    await page.goto(`${server.adminUrl}/admin/#token=wrong-token`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/token was refused/);
    await page.getByLabel('Admin token').fill('another-wrong-one');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/token was refused/);
  });

  it('signs in with the admin-url link, which leaves no token in the address bar', async () => {
    const link = (await server.cli(['admin-url'])).stdout.trim();
    expect(link).toMatch(/\/admin\/#token=/);
    page = await context.newPage();
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
    // Start from another mode, whatever ran before.
    expect((await server.cli(['auth', 'mode', mode === 'all' ? 'none' : 'all'])).code).toBe(0);
    await page.reload();
    await expect.poll(() => page.getByRole('radio', { name, exact: true }).isChecked()).toBe(false);
    await page.getByRole('radio', { name, exact: true }).check();
    await expect.poll(() => page.getByText('Unsaved changes').count()).toBe(1);
    await save();
    expect((await cliState()).mode).toBe(mode);
    await expect.poll(() => page.getByText('Unsaved changes').count()).toBe(0);
  });

  it('adds a strong secret', async () => {
    await addSecret({ secret: 'Strong-Page-Secret-1', label: 'SCCM 2026' });
    await save();
    expect((await cliState()).secrets).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: 'SCCM 2026', weak: false })]),
    );
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
    const before = (await cliState()).secrets.length;
    const generated = await addSecret({ generate: true, label: 'generated' });
    expect(generated).toMatch(/^[A-Za-z0-9]{24}$/);
    await save();
    expect((await cliState()).secrets).toHaveLength(before + 1);
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

  it('removes a secret only through one confirmation, which names what must be updated', async () => {
    const id = await addSecretByCli('to-remove', 'Remove-Me-Secret-77');
    const before = (await cliState()).secrets.length;
    await page.reload();
    await page
      .getByRole('row')
      .filter({ hasText: 'to-remove' })
      .getByRole('button', { name: "Remove secret 'to-remove'", exact: true })
      .click();
    await expect.poll(() => confirms.length).toBe(1);
    expect(confirms[0]).toMatch(/Command lines and scripts that carry it must be updated/);
    await save();
    const after = await cliState();
    expect(after.secrets.map((s) => s.id)).not.toContain(id);
    expect(after.secrets).toHaveLength(before - 1);
    expect(confirms).toHaveLength(1);
  });

  it('shows a hostile label as text', async () => {
    await addSecret({ secret: 'Xss-Label-Secret-9', label: XSS });
    await save();
    await expect.poll(() => page.getByRole('cell', { name: XSS, exact: true }).count()).toBe(1);
    expect(await page.locator('table img').count()).toBe(0);
    expect(alerts).toEqual([]);
  });

  it('lists registered clients and the latest attempts', async () => {
    await addSecretByCli('clients-list', 'Clients-List-Secret-5');
    expect(
      (
        await register(
          { kind: 'direct', url: server.url },
          { secret: 'Clients-List-Secret-5', machineId: 'machine-list' },
        )
      ).ok,
    ).toBe(true);
    await register({ kind: 'direct', url: server.url }, { secret: 'Not-A-Valid-Secret-0' });
    const active = (
      JSON.parse((await server.cli(['auth', 'show', '--json'])).stdout) as {
        clients: { active: number };
      }
    ).clients.active;
    expect(active).toBeGreaterThanOrEqual(1);
    await page.reload();
    await expect
      .poll(() =>
        page.getByRole('heading', { name: `Registered clients: ${active}`, exact: true }).count(),
      )
      .toBe(1);
    const attempts = page.getByRole('region', { name: 'Latest registration attempts' });
    await expect
      .poll(() => attempts.getByRole('row').filter({ hasText: 'wrong or removed secret' }).count())
      .toBeGreaterThan(0);
    await expect
      .poll(() => attempts.getByRole('row').filter({ hasText: 'registered' }).count())
      .toBeGreaterThan(0);
  });

  it('removes a client through one confirmation, its button named after the client', async () => {
    await addSecretByCli('remove-client', 'Remove-Client-Secret-3');
    const r = await register(
      { kind: 'direct', url: server.url },
      { secret: 'Remove-Client-Secret-3', machineId: 'machine-to-remove' },
    );
    if (!r.ok || r.result.kind !== 'registered') throw new Error('registration failed');
    const id = r.result.clientId;
    await page.reload();
    const clients = page.getByRole('region', { name: /Registered clients/ });
    const button = clients.getByRole('button', {
      name: `Remove client 'pc-042 (${id.slice(0, 8)})'`,
    });
    await expect.poll(() => button.count()).toBe(1);
    await button.click();
    await expect.poll(() => confirms.length).toBe(1);
    expect(confirms[0]).toMatch(/must register again/);
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/Removed the client/);
    const listed = JSON.parse((await server.cli(['clients', 'list', '--json'])).stdout) as {
      clientId: string;
    }[];
    expect(listed.map((c) => c.clientId)).not.toContain(id);
    const audit = await fetch(`${server.adminUrl}/admin/v1/audit?event=client.removed`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    }).then((x) => x.json() as Promise<{ clientId: string; route: string }[]>);
    expect(audit.find((a) => a.clientId === id)?.route).toBe('api');
  });

  it('adds a secret with an expiry and a use limit, shown in the table', async () => {
    await page.getByRole('button', { name: 'Add Secret', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await dialog.getByLabel('Auth Secret', { exact: true }).fill('Limited-Page-Secret-4');
    await dialog.getByLabel('Label', { exact: true }).fill('Laptops');
    await dialog.getByLabel('Expires after').fill('30d');
    await dialog.getByLabel('New clients it may register').fill('3');
    await dialog.getByRole('button', { name: 'OK', exact: true }).click();
    await save();
    const rows = JSON.parse((await server.cli(['auth', 'secret', 'list', '--json'])).stdout) as {
      label: string;
      expiresAt: string | null;
      maxUses: number | null;
    }[];
    const row = rows.find((x) => x.label === 'Laptops');
    expect(row?.maxUses).toBe(3);
    const days = (Date.parse(row?.expiresAt ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const tr = page.getByRole('row').filter({ hasText: 'Laptops' });
    await expect.poll(() => tr.textContent()).toMatch(/0 of 3 new clients/);
    expect(
      await tr.getByRole('button', { name: "Remove secret 'Laptops'", exact: true }).count(),
    ).toBe(1);
  });

  it('shows the install command to copy, for each shell', async () => {
    const card = page.getByRole('region', { name: 'Install command' });
    await expect.poll(() => card.locator('pre').textContent()).toMatch(/client-bootstrap /);
    expect(await card.locator('pre').textContent()).toContain(`--server-id=${server.serverId}`);
    expect(await card.locator('pre').textContent()).toContain(`--server-pin=${server.pin}`);
    await card.getByLabel('For').selectOption('powershell');
    await expect.poll(() => card.locator('pre').textContent()).toMatch(/\$env:ProgramFiles/);
    expect(await card.getByRole('button', { name: 'Copy install command' }).count()).toBe(1);
  });

  it('asks before leaving with unsaved changes, and not without', async () => {
    await page.getByRole('radio', { name: 'No Authorization', exact: true }).check();
    await expect.poll(() => page.getByText('Unsaved changes').count()).toBe(1);
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => leaves).toBe(1);
    // A generated secret that was neither copied nor added.
    page = await context.newPage();
    page.on('dialog', (d) => void (d.type() === 'beforeunload' && (leaves++, d.accept())));
    await page.goto((await server.cli(['admin-url'])).stdout.trim());
    await page.getByRole('button', { name: 'Add Secret', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Generate' }).click();
    await page.getByText('Copy it now').waitFor();
    // The guard is set in an effect, which runs after the next frame.
    await page.evaluate(
      () => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0))),
    );
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => leaves).toBe(2);
    // Nothing pending: the tab closes without a question.
    page = await context.newPage();
    page.on('dialog', (d) => void (d.type() === 'beforeunload' && (leaves++, d.accept())));
    await page.goto((await server.cli(['admin-url'])).stdout.trim());
    await expect
      .poll(() => page.getByRole('heading', { name: 'Client Authorization' }).count())
      .toBe(1);
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => page.isClosed()).toBe(true);
    expect(leaves).toBe(2);
  });

  it('shows a tunnel the relay refuses, with the reason, and one it accepts as connected', async () => {
    const relay = await startRelay();
    const dataDir = join(tempDir(), 'tunnel-server');
    try {
      expect(
        (await runProc(BIN.server, ['auth', 'mode', 'none', '--data-dir', dataDir])).code,
      ).toBe(0);
      const { serverId } = JSON.parse(
        (await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir])).stdout,
      ) as { serverId: string };
      const good = await relay.addServer(serverId);
      const wrong = join(tempDir(), 'wrong-token');
      writeFileSync(wrong, 'wrong-token-for-the-page\n', { mode: 0o600 });
      for (const [file, shown] of [
        [wrong, /Relay tunnel: refused: the relay refused the tunnel token/],
        [good, /Relay tunnel: connected since/],
      ] as const) {
        const other = await startServer({
          dataDir,
          args: ['--relay', relay.url, '--relay-token-file', file],
        });
        try {
          const tab = await context.newPage();
          await tab.goto((await other.cli(['admin-url'])).stdout.trim());
          const status = tab.getByRole('region', { name: 'Status' });
          await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(shown);
          if (file === wrong) expect(await status.textContent()).toMatch(/--relay-token-file/);
          await tab.close();
        } finally {
          await other.proc.stop();
        }
      }
    } finally {
      await relay.proc.stop();
    }
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

  it('from the keyboard: Tab reaches the mode radios (arrows choose) and Add Secret, Space opens it, Escape closes it', async () => {
    expect((await server.cli(['auth', 'mode', 'all'])).code).toBe(0);
    await page.reload();
    const focused = (): Promise<string> =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLInputElement | null;
        if (!el || el === document.body) return '';
        return `${el.tagName.toLowerCase()}:${el.type ?? ''}:${el.labels?.[0]?.textContent?.trim() ?? el.textContent?.trim() ?? ''}`;
      });
    /** Presses Tab until `want` has the focus (at most 30 times); returns how many presses it took. */
    const tabTo = async (want: RegExp): Promise<number> => {
      for (let i = 1; i <= 30; i++) {
        await page.keyboard.press('Tab');
        if (want.test(await focused())) return i;
      }
      throw new Error(`Tab never reached ${want}; last focus ${await focused()}`);
    };
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    // A radio group is one Tab stop: the checked radio.
    expect(await tabTo(/^input:radio:/)).toBeGreaterThan(0);
    expect(await focused()).toMatch(/Enable All Clients/);
    await page.keyboard.press('ArrowUp');
    expect(
      await page.getByRole('radio', { name: 'Enable Internet Clients', exact: true }).isChecked(),
    ).toBe(true);
    expect(await tabTo(/^button:.*Add Secret/)).toBeGreaterThan(0);
    await page.keyboard.press('Space');
    await expect.poll(() => page.getByRole('dialog', { name: 'Add Secret' }).count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  });
});
