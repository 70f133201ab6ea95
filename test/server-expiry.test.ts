/**
 * Secrets that expire or get used up: added with --expires and --max-uses
 * (and on the API), shown with their uses, refused like a removed secret
 * once spent, audited with why; and a data directory of 0.1.0 migrated.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret, derivePrs, fromB64u, generateSigningKey } from '../src/protocol/index.ts';
import { BIN, ROOT, runProc, startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { hello, register } from './support/wire-client.ts';

interface Listed {
  id: string;
  label: string;
  useCount: number;
  lastUsedAt: string | null;
  expiresAt: string | null;
  maxUses: number | null;
  state: string;
}

async function listed(s: ServerHandle): Promise<Listed[]> {
  const r = await s.cli(['auth', 'secret', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
}

async function addByCli(s: ServerHandle, label: string, secret: string, extra: string[] = []) {
  const r = await s.cli(['auth', 'secret', 'add', '--label', label, ...extra], `${secret}\n`);
  expect(r.code, r.stderr).toBe(0);
  return /added secret (\S+)/.exec(r.stdout)?.[1] as string;
}

async function audit(s: ServerHandle, event: string): Promise<Record<string, unknown>[]> {
  const res = await request(`${s.adminUrl}/admin/v1/audit?event=${event}&limit=200`, {
    headers: { authorization: `Bearer ${s.adminToken}` },
  });
  return (await res.body.json()) as Record<string, unknown>[];
}

/** How a registration with `secret` ends, as the client sees it. */
async function outcome(s: ServerHandle, secret: string): Promise<string> {
  const r = await register({ kind: 'direct', url: s.url }, { secret, pin: s.pin });
  return r.ok ? 'registered' : `${r.stage}:${r.code}`;
}

describe('secrets with limits', () => {
  let s: ServerHandle;
  beforeAll(async () => {
    s = await startServer();
  }, 60_000);
  afterAll(async () => {
    await s?.proc.stop();
  });

  it('refuses bad limits with a clear usage error and adds nothing', async () => {
    for (const [flag, value, text] of [
      ['--expires', '0d', /more than 0/],
      ['--expires', '30x', /neither a duration nor a date/],
      ['--expires', '2001-01-01', /already past/],
      ['--expires', '2999-01-01', /ten years/],
      ['--max-uses', '0', /whole number from 1/],
      ['--max-uses', 'many', /whole number from 1/],
    ] as const) {
      const r = await s.cli(['auth', 'secret', 'add', flag, value], 'Never-Added-2026x\n');
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr).toMatch(text);
      expect(r.stderr + r.stdout).not.toContain('Never-Added');
    }
    expect(await listed(s)).toEqual([]);
  });

  it('counts only new clients; a used-up secret is refused exactly like a removed one, and the audit says used_up', async () => {
    await addByCli(s, 'Other', 'Other-Secret-2026z');
    const id = await addByCli(s, 'Limited', 'Limited-Secret-2026y', ['--max-uses', '2']);
    const removedId = await addByCli(s, 'Gone', 'Removed-Secret-2026w');
    expect((await s.cli(['auth', 'secret', 'remove', removedId])).code).toBe(0);
    const asRemoved = await outcome(s, 'Removed-Secret-2026w');
    expect(asRemoved).not.toBe('registered');

    const key = generateSigningKey();
    const route = { kind: 'direct' as const, url: s.url };
    expect((await register(route, { secret: 'Limited-Secret-2026y', clientKey: key })).ok).toBe(
      true,
    );
    // The same client again: idempotent, not a use.
    expect((await register(route, { secret: 'Limited-Secret-2026y', clientKey: key })).ok).toBe(
      true,
    );
    let row = (await listed(s)).find((r) => r.id === id);
    expect(row).toMatchObject({ useCount: 1, maxUses: 2, state: 'active' });
    expect(row?.lastUsedAt).not.toBeNull();
    expect(await outcome(s, 'Limited-Secret-2026y')).toBe('registered');
    row = (await listed(s)).find((r) => r.id === id);
    expect(row).toMatchObject({ useCount: 2, state: 'used_up' });
    // Spent: the client meets what a removed secret meets.
    expect(await outcome(s, 'Limited-Secret-2026y')).toBe(asRemoved);
    const table = (await s.cli(['auth', 'secret', 'list'])).stdout;
    expect(table).toMatch(new RegExp(`${id}\\s+Limited.*USED UP, 2 of 2 uses`));
    const retired = (await audit(s, 'secret.retired')).filter((a) => a.secretId === id);
    expect(retired).toHaveLength(1);
    expect(retired[0]).toMatchObject({ reason: 'used_up' });
  });

  it("gives a secret's last use to one of many clients registering at the same moment", async () => {
    const id = await addByCli(s, 'Last', 'Last-Use-Secret-2026k', ['--max-uses', '1']);
    const route = { kind: 'direct' as const, url: s.url };
    const h = await hello(route);
    const prs = await derivePrs(
      Secret.from('Last-Use-Secret-2026k'),
      fromB64u(h.serverId, 'serverId', 16),
      h.kdf,
    );
    // Every client holds an M2 with the secret's share before any M3 is sent: all eight
    // finishes then reach the server while the last use is still there, and only one may take it.
    const clients = 8;
    let arrived = 0;
    let release = (): void => undefined;
    const together = new Promise<void>((resolve) => (release = resolve));
    const outcomes = await Promise.all(
      Array.from({ length: clients }, (_, n) =>
        register(route, {
          prs,
          machineId: `last-${n}`,
          betweenM2AndM3: async () => {
            if (++arrived === clients) release();
            await together;
          },
        }),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    const lost = outcomes.filter((o) => !o.ok);
    expect(lost).toHaveLength(clients - 1);
    for (const o of lost) expect(o).toMatchObject({ stage: 'finish', code: 'secret_revoked' });
    expect((await listed(s)).find((r) => r.id === id)).toMatchObject({
      useCount: 1,
      state: 'used_up',
    });
  });

  it('an expired secret is refused like a removed one; the audit says expired; the API shows it', async () => {
    const id = await addByCli(s, 'Soon', 'Expiring-Secret-2026v', ['--expires', '12h']);
    const before = (await listed(s)).find((r) => r.id === id) as Listed;
    const hours = (Date.parse(before.expiresAt as string) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    expect(await outcome(s, 'Expiring-Secret-2026v')).toBe('registered');
    // Twelve hours pass: the stored expiry is moved into the past.
    const db = new Database(join(s.dataDir, 'server.db'));
    db.prepare('UPDATE secrets SET expires_at = ? WHERE id = ?').run(
      new Date(Date.now() - 1000).toISOString(),
      id,
    );
    db.close();
    const removedLike = await outcome(s, 'Removed-Secret-2026w');
    expect(await outcome(s, 'Expiring-Secret-2026v')).toBe(removedLike);
    const retired = (await audit(s, 'secret.retired')).filter((a) => a.secretId === id);
    expect(retired).toHaveLength(1);
    expect(retired[0]).toMatchObject({ reason: 'expired' });
    const res = await request(`${s.adminUrl}/admin/v1/secrets`, {
      headers: { authorization: `Bearer ${s.adminToken}` },
    });
    const rows = (await res.body.json()) as Listed[];
    expect(rows.find((r) => r.id === id)).toMatchObject({ state: 'expired', useCount: 1 });
  });

  it('the admin API takes expires and maxUses, and refuses bad ones', async () => {
    const post = async (body: unknown) => {
      const res = await request(`${s.adminUrl}/admin/v1/secrets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    const ok = await post({ generate: true, label: 'Api', expires: '90m', maxUses: 5 });
    expect(ok.status).toBe(201);
    expect(ok.body.maxUses).toBe(5);
    const minutes = (Date.parse(ok.body.expiresAt as string) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(89);
    expect(minutes).toBeLessThanOrEqual(90);
    expect((await post({ generate: true, expires: 'soon' })).status).toBe(400);
    expect((await post({ generate: true, maxUses: -1 })).status).toBe(400);
    expect((await post({ generate: true, expires: 7 })).status).toBe(400);
  });

  it('auth show warns when the mode needs a secret and none is usable', async () => {
    const fresh = join(tempDir(), 'server');
    const mode = await runProc(BIN.server, ['auth', 'mode', 'all', '--data-dir', fresh]);
    expect(mode.stderr).toMatch(/warning: nobody can register: the mode "all" needs a secret/);
    const show = await runProc(BIN.server, ['auth', 'show', '--data-dir', fresh]);
    expect(show.stdout).toMatch(/WARNING: +nobody can register.*auth secret add/);
    const json = JSON.parse(
      (await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', fresh])).stdout,
    ) as { warning: string | null };
    expect(json.warning).toMatch(/nobody can register/);
    await runProc(BIN.server, ['auth', 'mode', 'internet', '--data-dir', fresh]);
    expect((await runProc(BIN.server, ['auth', 'show', '--data-dir', fresh])).stdout).toMatch(
      /WARNING: +no internet client can register/,
    );
    await runProc(BIN.server, ['auth', 'mode', 'none', '--data-dir', fresh]);
    expect((await runProc(BIN.server, ['auth', 'show', '--data-dir', fresh])).stdout).not.toMatch(
      /WARNING/,
    );
  });
});

describe('a data directory made by 0.1.0', () => {
  it('opens, migrates and keeps working: its secret, its client, new limits', async () => {
    const dataDir = join(tempDir(), 'server');
    cpSync(join(ROOT, 'test/fixtures/server-data-0.1.0'), dataDir, { recursive: true });
    const s = await startServer({ dataDir, args: ['--intranet', '10.9.9.0/24'] });
    try {
      const rows = await listed(s);
      expect(rows).toEqual([
        expect.objectContaining({
          label: 'Old',
          useCount: 1,
          expiresAt: null,
          maxUses: null,
          state: 'active',
        }),
      ]);
      const clients = JSON.parse((await s.cli(['clients', 'list', '--json'])).stdout) as {
        hostname: string;
      }[];
      expect(clients.map((c) => c.hostname)).toEqual(['pc-042']);
      // Loopback is the internet here, and the mode is internet: the old secret is needed, and works.
      expect(await outcome(s, 'Old-Secret-2025x')).toBe('registered');
      expect(await outcome(s, 'Wrong-Secret-2025x')).not.toBe('registered');
      await addByCli(s, 'New', 'New-Secret-2026q', ['--max-uses', '1']);
      expect(await outcome(s, 'New-Secret-2026q')).toBe('registered');
      expect(await outcome(s, 'New-Secret-2026q')).not.toBe('registered');
    } finally {
      await s.proc.stop();
    }
  });
});
