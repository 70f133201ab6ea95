/**
 * The server's store in PostgreSQL: one estate shared by several server
 * instances, with the behaviour of the SQLite store (store.ts) method for
 * method. What SQLite gets from having one writer, this gets from the
 * database: a client key is registered by one INSERT ... ON CONFLICT under
 * a lock on its machine, and every multi-statement change is one
 * transaction. The secrets and the audit log have files of their own.
 */
import type { Pool } from 'pg';
import type { Registered, ServerStore } from './store-api.ts';
import { PgDb, sqlLiteral } from './store-pg-db.ts';
import type { PgOptions } from './store-pg-db.ts';
import { checkSchema, migrate } from './store-pg-schema.ts';
import { PgSecrets, usable } from './store-pg-secrets.ts';
import { PgAudit } from './store-pg-audit.ts';
import type { AuditEntry, AuditRetention, AuditRow, ClientRow } from './store-rows.ts';
import { clientValues, toClient } from './store-rows.ts';

const CLIENT_ORDER = 'ORDER BY registered_at DESC, seq DESC';

type Row = Record<string, unknown>;

export class PgStore implements ServerStore {
  readonly kind = 'postgres';
  readonly location: string;
  readonly secrets: PgSecrets;
  /** The connections and their error translation, shared with the registration state. */
  readonly db: PgDb;
  readonly pool: Pool;
  readonly #audit: PgAudit;

  private constructor(db: PgDb) {
    this.db = db;
    this.pool = db.pool;
    this.location = db.location;
    this.secrets = new PgSecrets(db);
    this.#audit = new PgAudit(db);
  }

  /** Connects (a bounded pool) and brings the schema up to date. */
  static async open(url: string, opts: PgOptions = {}): Promise<PgStore> {
    const db = new PgDb(url, opts);
    try {
      await migrate(db);
    } catch (err) {
      await db.end();
      throw err;
    }
    return new PgStore(db);
  }

  async close(): Promise<void> {
    await this.db.end();
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  async quickCheck(): Promise<string[]> {
    try {
      return await checkSchema(this.db);
    } catch (err) {
      const e = this.db.translate(err) as Error & { code?: string };
      return [`${e.code ?? 'error'}: ${e.message}`];
    }
  }

  async getSetting(key: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ value: string }>(
      'SELECT value FROM settings WHERE key = $1',
      [key],
    );
    return rows[0]?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async initSetting(key: string, value: string): Promise<string> {
    // Two statements: the second sees a value another instance committed
    // while the first waited on it, which one statement's snapshot would not.
    await this.db.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [key, value],
    );
    return (await this.getSetting(key)) ?? value;
  }

  async deleteSetting(key: string): Promise<void> {
    await this.db.query('DELETE FROM settings WHERE key = $1', [key]);
  }

  async clientByFingerprint(fingerprint: string): Promise<ClientRow | undefined> {
    const { rows } = await this.db.query('SELECT * FROM clients WHERE key_fingerprint = $1', [
      fingerprint,
    ]);
    return rows[0] ? toClient(rows[0]) : undefined;
  }

  registerClient(row: ClientRow & { clientKey: string }): Promise<Registered> {
    return this.db.withClient(async (client) => {
      // One machine's registrations one at a time, so that of two new keys
      // the later supersedes the earlier as in SQLite. Sent with BEGIN: one
      // round trip (the key is quoted by pg).
      await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended(${sqlLiteral(`client-machine:${row.machineId}`)}, 0))`,
      );
      // The same key from another instance waits on the unique index, then does nothing.
      const inserted = await client.query<Row>(
        `WITH ins AS (
           INSERT INTO clients (client_id, key_fingerprint, client_key, machine_id, hostname, os, arch,
             agent_version, install_id, route, seen_as, secret_id, registered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (key_fingerprint) DO NOTHING RETURNING *),
         sup AS (
           UPDATE clients SET superseded_by = $1
           WHERE machine_id = $4 AND client_id <> $1 AND superseded_by IS NULL
             AND EXISTS (SELECT 1 FROM ins))
         SELECT * FROM ins`,
        clientValues(row),
      );
      const made = inserted.rows[0];
      const existing = made
        ? undefined
        : (
            await client.query<Row>('SELECT * FROM clients WHERE key_fingerprint = $1', [
              row.keyFingerprint,
            ])
          ).rows[0];
      if (!made && !existing)
        throw new Error(`client ${row.keyFingerprint} vanished while registering`);
      if (row.secretId !== null) {
        // The use is taken only while the secret is usable; its row stays locked to COMMIT, so a
        // registration racing for the last use waits, then finds it used up.
        const used = await client.query(
          `UPDATE secrets SET use_count = use_count + $1, last_used_at = $2
           WHERE id = $3 AND ${usable(2)}`,
          [made ? 1 : 0, row.registeredAt, row.secretId],
        );
        if (used.rowCount !== 1) {
          await client.query('ROLLBACK');
          return { client: null, created: false };
        }
      }
      await client.query('COMMIT');
      if (made) return { client: toClient(made), created: true };
      return { client: toClient(existing as Row), created: false };
    });
  }

  async clientById(clientId: string): Promise<(ClientRow & { clientKey: string }) | undefined> {
    const { rows } = await this.db.query('SELECT * FROM clients WHERE client_id = $1', [clientId]);
    return rows[0] ? withKey(rows[0]) : undefined;
  }

  /** Forgets a client; the records it superseded stay superseded (as in store.ts). */
  async removeClient(clientId: string): Promise<ClientRow | undefined> {
    const { rows } = await this.db.query('DELETE FROM clients WHERE client_id = $1 RETURNING *', [
      clientId,
    ]);
    return rows[0] ? withKey(rows[0]) : undefined;
  }

  async listClients(limit = 10_000): Promise<ClientRow[]> {
    const { rows } = await this.db.query(`SELECT * FROM clients ${CLIENT_ORDER} LIMIT $1`, [limit]);
    return rows.map(toClient);
  }

  async listClientsPage(page: {
    limit: number;
    offset: number;
  }): Promise<{ clients: ClientRow[]; total: number }> {
    // One statement, one snapshot: the page and the total agree.
    const { rows } = await this.db.query<Row & { total: number }>(
      `SELECT c.*, t.total FROM (SELECT count(*)::int AS total FROM clients) t
       LEFT JOIN LATERAL (SELECT * FROM clients ${CLIENT_ORDER} LIMIT $1 OFFSET $2) c ON true
       ORDER BY c.registered_at DESC, c.seq DESC`,
      [page.limit, page.offset],
    );
    return {
      clients: rows.filter((r) => r.client_id !== null).map(toClient),
      total: rows[0]?.total ?? 0,
    };
  }

  async countClients(): Promise<{ total: number; active: number }> {
    const { rows } = await this.db.query<{ total: number; active: number }>(
      'SELECT count(*)::int AS total, (count(*) FILTER (WHERE superseded_by IS NULL))::int AS active FROM clients',
    );
    return rows[0] ?? { total: 0, active: 0 };
  }

  audit(entry: AuditEntry, time: string): Promise<void> {
    return this.#audit.audit(entry, time);
  }

  auditRepeated(entry: AuditEntry, time: string): Promise<void> {
    return this.#audit.auditRepeated(entry, time);
  }

  setAuditRetention(retention: AuditRetention, now: number): Promise<void> {
    return this.#audit.setRetention(retention, now);
  }

  pruneAudit(now: number): Promise<number> {
    return this.#audit.prune(now);
  }

  countAudit(): Promise<{ rows: number; occurrences: number }> {
    return this.#audit.count();
  }

  listAudit(limit?: number, event?: string): Promise<AuditRow[]> {
    return this.#audit.list(limit, event);
  }

  async addAdminToken(row: {
    hash: string;
    label: string;
    createdAt: string;
    expiresAt: string | null;
  }): Promise<void> {
    await this.db.query(
      'INSERT INTO admin_tokens (hash, label, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      [row.hash, row.label, row.createdAt, row.expiresAt],
    );
  }

  async isAdminTokenValid(hash: string, now: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'SELECT 1 FROM admin_tokens WHERE hash = $1 AND (expires_at IS NULL OR expires_at > $2)',
      [hash, now],
    );
    return rowCount === 1;
  }

  async revokeAdminTokens(): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM admin_tokens');
    return rowCount ?? 0;
  }
}

function withKey(r: Row): ClientRow & { clientKey: string } {
  return { ...toClient(r), clientKey: r.client_key as string };
}
