/**
 * A server moved from SQLite to PostgreSQL: a store built by the SQLite
 * code (secrets used, expired, retired and removed, clients superseded,
 * refusals merged, admin tokens) is copied into a real PostgreSQL and
 * every row compares equal, column by column and through the store
 * methods; copying again, or into another server's database, is refused
 * and changes nothing; a file from an older release copies with defaults.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { copySqliteToPg } from '../../src/server/store-migrate.ts';
import type { PgStore } from '../../src/server/store-pg.ts';
import { Store } from '../../src/server/store.ts';
import { pgStoresPerFile } from '../support/pg-stores.ts';
import { tempDir } from '../support/procs.ts';

const T0 = Date.parse('2030-06-01T00:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const MIN = 60_000;

const db = pgStoresPerFile('copy');

async function freshPg(): Promise<PgStore> {
  const { stores } = await db.open(1);
  return stores[0] as PgStore;
}

/** A SQLite store with a bit of everything, made by the SQLite code itself. */
function buildSqlite(serverId = 'srv-sqlite'): string {
  const path = join(tempDir(), 'server.db');
  const s = new Store(path);
  s.initSetting('server_id', serverId);
  s.initSetting(
    'server_key',
    `-----BEGIN PRIVATE KEY-----\n${serverId}\n-----END PRIVATE KEY-----`,
  );
  s.setSetting('mode', 'internet');
  const prs = (b: number): Buffer => Buffer.alloc(32, b);
  s.secrets.add({ id: 's-1', label: 'plain', prs: prs(1), weak: false, createdAt: at(0) }, 10);
  s.secrets.add(
    { id: 's-2', label: 'expiring', prs: prs(2), weak: true, createdAt: at(1), expiresAt: at(MIN) },
    10,
  );
  s.secrets.add(
    { id: 's-3', label: 'twice', prs: prs(3), weak: false, createdAt: at(2), maxUses: 2 },
    10,
  );
  s.secrets.add({ id: 's-4', label: 'gone', prs: prs(4), weak: false, createdAt: at(3) }, 10);
  s.secrets.markUsed('s-3', at(4), true);
  s.secrets.markUsed('s-3', at(5), true);
  s.secrets.markUsed('s-1', at(6), false);
  s.secrets.remove('s-4', at(7));
  s.secrets.takeNewlyRetired(at(2 * MIN));
  for (let n = 0; n < 5; n++)
    s.registerClient({
      clientId: `c-${n}`,
      keyFingerprint: `fp-${n}`,
      clientKey: `key-${n}`,
      machineId: n < 3 ? 'm-a' : `m-${n}`,
      hostname: `host-${n}`,
      os: 'linux',
      arch: 'x64',
      agentVersion: '1.2.3',
      installId: `i-${n}`,
      route: n % 2 ? 'relay' : 'direct',
      seenAs: 'internet',
      secretId: 's-1',
      registeredAt: at(10_000 + n),
      supersededBy: null,
    });
  s.removeClient('c-4');
  s.audit(
    { event: 'register', outcome: 'ok', clientId: 'c-0', secretId: 's-1', keyFingerprint: 'fp-0' },
    at(0),
  );
  for (let n = 0; n < 4; n++)
    s.auditRepeated(
      {
        event: 'register',
        route: 'direct',
        source: '10.0.0.1',
        outcome: 'throttled',
        reason: 'blocked',
      },
      at(n * MIN),
    );
  s.audit({ event: 'secret', outcome: 'retired', secretId: 's-2', reason: 'expired' }, at(3 * MIN));
  s.addAdminToken({ hash: 'h-1', label: 'ops', createdAt: at(0), expiresAt: at(60 * MIN) });
  s.addAdminToken({ hash: 'h-2', label: 'ci', createdAt: at(0), expiresAt: null });
  s.close();
  return path;
}

/** A table's rows as both databases give them, with SQLite's flags as booleans. */
function sqliteRows(path: string, table: string, order: string): Record<string, unknown>[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all() as Record<string, unknown>[]
    ).map((r) => (table === 'secrets' ? { ...r, weak: r.weak === 1 } : r));
  } finally {
    db.close();
  }
}

async function pgRows(
  store: PgStore,
  table: string,
  order: string,
  drop: string[] = [],
): Promise<Record<string, unknown>[]> {
  const { rows } = await store.pool.query<Record<string, unknown>>(
    `SELECT * FROM ${table} ORDER BY ${order}`,
  );
  return rows.map((r) => {
    const out = { ...r };
    for (const c of drop) delete out[c];
    if ('id' in out && table === 'audit') out.id = Number(out.id);
    return out;
  });
}

describe('copying a SQLite store into PostgreSQL', () => {
  it('copies every row of every table, and the stores then answer alike', async () => {
    const path = buildSqlite();
    const store = await freshPg();
    const counts = await copySqliteToPg(path, store);
    expect(counts).toEqual({ settings: 3, secrets: 4, clients: 4, audit: 3, adminTokens: 2 });

    expect(await pgRows(store, 'settings', 'key')).toEqual(sqliteRows(path, 'settings', 'key'));
    expect(await pgRows(store, 'secrets', 'seq', ['seq'])).toEqual(
      sqliteRows(path, 'secrets', 'rowid'),
    );
    expect(await pgRows(store, 'clients', 'seq', ['seq'])).toEqual(
      sqliteRows(path, 'clients', 'rowid'),
    );
    expect(await pgRows(store, 'audit', 'id', ['repeated'])).toEqual(
      sqliteRows(path, 'audit', 'id'),
    );
    expect(await pgRows(store, 'admin_tokens', 'hash')).toEqual(
      sqliteRows(path, 'admin_tokens', 'hash'),
    );

    // The same questions, the same answers.
    const sqlite = new Store(path, { readonly: true });
    try {
      const now = at(3 * MIN);
      expect(await store.secrets.list(now)).toEqual(sqlite.secrets.list(now));
      expect(await store.secrets.usableWithPrs(now)).toEqual(sqlite.secrets.usableWithPrs(now));
      expect(await store.secrets.takeNewlyRetired(now)).toEqual([]);
      expect(await store.listClients()).toEqual(sqlite.listClients());
      expect(await store.countClients()).toEqual(sqlite.countClients());
      expect(await store.listAudit()).toEqual(sqlite.listAudit());
      expect(await store.countAudit()).toEqual({ rows: 3, occurrences: 6 });
      expect(await store.isAdminTokenValid('h-2', now)).toBe(true);
      expect(await store.getSetting('server_id')).toBe('srv-sqlite');
    } finally {
      sqlite.close();
    }
    // New rows continue after the copied ones.
    await store.audit({ event: 'register', outcome: 'ok' }, at(4 * MIN));
    expect((await store.listAudit(1))[0]?.id).toBe(4);
    expect(
      (
        await store.registerClient({
          ...(await store.clientById('c-0'))!,
          clientId: 'c-new',
          keyFingerprint: 'fp-new',
          clientKey: 'key-new',
          registeredAt: at(20_000),
        })
      ).created,
    ).toBe(true);
    expect((await store.clientById('c-2'))?.supersededBy).toBe('c-new');
  });

  it('refuses to copy the same file twice, and changes nothing', async () => {
    const path = buildSqlite();
    const store = await freshPg();
    await copySqliteToPg(path, store);
    const before = await pgRows(store, 'audit', 'id');
    await expect(copySqliteToPg(path, store)).rejects.toMatchObject({
      code: 'store_not_empty',
      message: expect.stringMatching(
        /already holds 4 secrets, 4 clients, 3 audit entries, 2 admin tokens/,
      ) as unknown,
    });
    expect(await pgRows(store, 'audit', 'id')).toEqual(before);
    expect(await store.countClients()).toEqual({ total: 4, active: 2 });
  });

  it('refuses a PostgreSQL store that belongs to another server, even an empty one', async () => {
    const store = await freshPg();
    await store.initSetting('server_id', 'srv-other');
    await expect(copySqliteToPg(buildSqlite(), store)).rejects.toMatchObject({
      code: 'store_not_empty',
      message: expect.stringMatching(/another server \(srv-other\)/) as unknown,
    });
    expect(await store.countClients()).toEqual({ total: 0, active: 0 });
    expect(await store.secrets.list(at(0))).toEqual([]);
    expect(await store.getSetting('mode')).toBeUndefined();
  });

  it('copies a file from before expiry, use limits and merged refusals, with their defaults', async () => {
    const path = join(tempDir(), 'old.db');
    const db = new Database(path);
    db.exec(`
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE secrets (id TEXT PRIMARY KEY, label TEXT NOT NULL, prs BLOB NOT NULL, weak INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, last_used_at TEXT, use_count INTEGER NOT NULL DEFAULT 0, removed_at TEXT);
      CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, event TEXT NOT NULL, route TEXT,
        source TEXT, outcome TEXT NOT NULL, reason TEXT, secret_id TEXT, client_id TEXT, key_fingerprint TEXT);
    `);
    db.prepare('INSERT INTO settings VALUES (?, ?)').run('server_id', 'srv-old');
    db.prepare('INSERT INTO secrets (id, label, prs, weak, created_at) VALUES (?, ?, ?, 1, ?)').run(
      's-old',
      'old',
      Buffer.alloc(32, 7),
      at(0),
    );
    db.prepare("INSERT INTO audit (time, event, outcome) VALUES (?, 'register', 'ok')").run(at(1));
    db.close();
    const store = await freshPg();
    expect(await copySqliteToPg(path, store)).toEqual({
      settings: 1,
      secrets: 1,
      clients: 0,
      audit: 1,
      adminTokens: 0,
    });
    expect(await store.secrets.list(at(2))).toEqual([
      {
        id: 's-old',
        label: 'old',
        createdAt: at(0),
        lastUsedAt: null,
        useCount: 0,
        weak: true,
        expiresAt: null,
        maxUses: null,
        state: 'active',
      },
    ]);
    expect(await store.secrets.usableWithPrs(at(2))).toEqual([
      { id: 's-old', prs: Buffer.alloc(32, 7) },
    ]);
    expect(await store.listAudit()).toMatchObject([
      { id: 1, count: 1, firstTime: at(1), time: at(1) },
    ]);
  });
});
