/**
 * The server's SQLite store (WAL): settings, secrets (PRS only), clients and
 * the audit log. The command line and the running server open the same
 * file; `version()` tells a reader when another connection has committed.
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { SECRET_COLUMNS, SecretStore } from './store-secrets.ts';
import type { Registered } from './store-api.ts';
import { AuditLog } from './store-audit.ts';
import { clientValues, toClient } from './store-rows.ts';
import type { AuditEntry, AuditRetention, AuditRow, ClientRow } from './store-rows.ts';

export type { SecretRow } from './store-secrets.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
  id TEXT PRIMARY KEY, label TEXT NOT NULL, prs BLOB NOT NULL, weak INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, last_used_at TEXT, use_count INTEGER NOT NULL DEFAULT 0, removed_at TEXT);
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT PRIMARY KEY, key_fingerprint TEXT NOT NULL UNIQUE, client_key TEXT NOT NULL,
  machine_id TEXT NOT NULL, hostname TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  agent_version TEXT NOT NULL, install_id TEXT NOT NULL, route TEXT NOT NULL, seen_as TEXT NOT NULL,
  secret_id TEXT, registered_at TEXT NOT NULL, superseded_by TEXT);
CREATE INDEX IF NOT EXISTS clients_machine ON clients (machine_id);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, event TEXT NOT NULL, route TEXT, source TEXT,
  outcome TEXT NOT NULL, reason TEXT, secret_id TEXT, client_id TEXT, key_fingerprint TEXT);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE TABLE IF NOT EXISTS admin_tokens (
  hash TEXT PRIMARY KEY, label TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT);
`;

/** Columns added after the first release, each with its definition. */
const ADDED_COLUMNS: readonly [table: string, column: string, definition: string][] = [
  ['audit', 'count', 'INTEGER NOT NULL DEFAULT 1'],
  ['audit', 'first_time', 'TEXT'],
  ...SECRET_COLUMNS,
];

/** The store; every method is synchronous and short. */
export class Store {
  readonly #db: Db;
  /** The secrets (PRS only). */
  readonly secrets: SecretStore;
  readonly #audit: AuditLog;

  constructor(path: string, opts: { readonly?: boolean } = {}) {
    if (opts.readonly) {
      // A backup to inspect: never created, changed or migrated.
      this.#db = new Database(path, { readonly: true, fileMustExist: true });
      this.secrets = new SecretStore(this.#db);
      this.#audit = new AuditLog(this.#db);
      return;
    }
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    this.#migrate();
    this.secrets = new SecretStore(this.#db);
    this.#audit = new AuditLog(this.#db);
  }

  #migrate(): void {
    for (const [table, column, definition] of ADDED_COLUMNS) {
      const cols = this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
      if (!cols.some((c) => c.name === column))
        this.#db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
    }
  }

  close(): void {
    this.#db.close();
  }

  /** SQLite's quick_check: empty when the database is sound, else what it found (at most 10). */
  quickCheck(): string[] {
    try {
      const rows = this.#db.pragma('quick_check(10)') as { quick_check: string }[];
      const found = rows.map((r) => r.quick_check);
      return found.length === 1 && found[0] === 'ok' ? [] : found;
    } catch (err) {
      // Damage bad enough that the check itself cannot read a page.
      return [`${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`];
    }
  }

  /** An online, consistent copy of the database (other connections may keep writing). */
  async backupTo(path: string): Promise<void> {
    await this.#db.backup(path);
  }

  /** Changes whenever another connection commits. */
  version(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  getSetting(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    this.#db
      .prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  /** Sets a setting only when it is not there yet; returns the value in force. */
  initSetting(key: string, value: string): string {
    this.#db.prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)').run(key, value);
    return this.getSetting(key) as string;
  }

  clientByFingerprint(fingerprint: string): ClientRow | undefined {
    const row = this.#db
      .prepare('SELECT * FROM clients WHERE key_fingerprint = ?')
      .get(fingerprint) as Record<string, unknown> | undefined;
    return row ? toClient(row) : undefined;
  }

  /**
   * Registers a client key once: an existing key returns its record; a new
   * key from a known machine supersedes the older records of that machine.
   */
  registerClient(row: ClientRow & { clientKey: string }): Registered {
    return this.#db.transaction((): Registered => {
      if (row.secretId !== null && !this.secrets.isUsable(row.secretId, row.registeredAt))
        return { client: null, created: false };
      const existing = this.clientByFingerprint(row.keyFingerprint);
      if (existing) {
        if (row.secretId !== null) this.secrets.markUsed(row.secretId, row.registeredAt, false);
        return { client: existing, created: false };
      }
      this.#db
        .prepare(
          `INSERT INTO clients (client_id, key_fingerprint, client_key, machine_id, hostname, os, arch, agent_version,
           install_id, route, seen_as, secret_id, registered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(...clientValues(row));
      this.#db
        .prepare(
          'UPDATE clients SET superseded_by = ? WHERE machine_id = ? AND client_id != ? AND superseded_by IS NULL',
        )
        .run(row.clientId, row.machineId, row.clientId);
      if (row.secretId !== null) this.secrets.markUsed(row.secretId, row.registeredAt, true);
      return { client: this.clientByFingerprint(row.keyFingerprint) as ClientRow, created: true };
    })();
  }

  clientById(clientId: string): (ClientRow & { clientKey: string }) | undefined {
    const row = this.#db.prepare('SELECT * FROM clients WHERE client_id = ?').get(clientId) as
      Record<string, unknown> | undefined;
    return row ? { ...toClient(row), clientKey: row.client_key as string } : undefined;
  }

  /**
   * Forgets a client (its key can no longer be looked up); returns the row
   * removed. Older records it superseded stay superseded: that machine's
   * earlier keys are no more trusted for its removal.
   */
  removeClient(clientId: string): ClientRow | undefined {
    return this.#db.transaction(() => {
      const row = this.clientById(clientId);
      if (!row) return undefined;
      this.#db.prepare('DELETE FROM clients WHERE client_id = ?').run(clientId);
      return row;
    })();
  }

  listClients(limit = 10_000): ClientRow[] {
    const rows = this.#db
      .prepare('SELECT * FROM clients ORDER BY registered_at DESC, rowid DESC LIMIT ?')
      .all(limit) as Record<string, unknown>[];
    return rows.map(toClient);
  }

  /**
   * One page of clients, newest first, with the total: a caller can say
   * "showing N of M" instead of cutting the list silently.
   */
  listClientsPage(page: { limit: number; offset: number }): {
    clients: ClientRow[];
    total: number;
  } {
    return this.#db.transaction(() => {
      const rows = this.#db
        .prepare('SELECT * FROM clients ORDER BY registered_at DESC, rowid DESC LIMIT ? OFFSET ?')
        .all(page.limit, page.offset) as Record<string, unknown>[];
      const { total } = this.#db.prepare('SELECT COUNT(*) AS total FROM clients').get() as {
        total: number;
      };
      return { clients: rows.map(toClient), total };
    })();
  }

  countClients(): { total: number; active: number } {
    return this.#db
      .prepare(
        'SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE superseded_by IS NULL) AS active FROM clients',
      )
      .get() as {
      total: number;
      active: number;
    };
  }

  audit(entry: AuditEntry, time: string): void {
    this.#audit.add(entry, time);
  }

  /** See AuditLog.addRepeated. */
  auditRepeated(entry: AuditEntry, time: string): void {
    this.#audit.addRepeated(entry, time);
  }

  /** Sets how many audit rows, and how old, are kept; prunes at once. */
  setAuditRetention(retention: AuditRetention, now: number): void {
    this.#audit.setRetention(retention, now);
  }

  /** Drops audit rows past the retention limits; returns how many. */
  pruneAudit(now: number): number {
    return this.#audit.prune(now);
  }

  /** Audit rows and the occurrences they stand for. */
  countAudit(): { rows: number; occurrences: number } {
    return this.#audit.count();
  }

  /** Stores an admin token's hash (the token itself is never stored). */
  addAdminToken(row: {
    hash: string;
    label: string;
    createdAt: string;
    expiresAt: string | null;
  }): void {
    this.#db
      .prepare('INSERT INTO admin_tokens (hash, label, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(row.hash, row.label, row.createdAt, row.expiresAt);
  }

  /** Whether a token hash is known and unexpired at `now` (ISO time). */
  isAdminTokenValid(hash: string, now: string): boolean {
    return (
      this.#db
        .prepare(
          'SELECT 1 FROM admin_tokens WHERE hash = ? AND (expires_at IS NULL OR expires_at > ?)',
        )
        .get(hash, now) !== undefined
    );
  }

  /** Forgets every admin token; returns how many there were. */
  revokeAdminTokens(): number {
    return this.#db.prepare('DELETE FROM admin_tokens').run().changes;
  }

  deleteSetting(key: string): void {
    this.#db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }

  /** The audit entries seen last (a merged row by its last occurrence), of one event kind if given. */
  listAudit(limit = 50, event?: string): AuditRow[] {
    return this.#audit.list(limit, event);
  }
}
