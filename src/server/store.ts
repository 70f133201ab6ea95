/**
 * The server's SQLite store (WAL): settings, secrets (PRS only), clients and
 * the audit log. The command line and the running server open the same
 * file; `version()` tells a reader when another connection has committed.
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { SECRET_COLUMNS, SecretStore } from './store-secrets.ts';
import type { Registered } from './store-api.ts';

export type AuthMode = 'none' | 'internet' | 'all';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'internet', 'all'];

export type { SecretRow } from './store-secrets.ts';

export interface ClientRow {
  readonly clientId: string;
  readonly keyFingerprint: string;
  readonly machineId: string;
  readonly hostname: string;
  readonly os: string;
  readonly arch: string;
  readonly agentVersion: string;
  readonly installId: string;
  readonly route: string;
  readonly seenAs: string;
  readonly secretId: string | null;
  readonly registeredAt: string;
  readonly supersededBy: string | null;
}

export interface AuditEntry {
  readonly event: string;
  readonly route?: string;
  readonly source?: string;
  readonly outcome: string;
  readonly reason?: string;
  readonly secretId?: string | null;
  readonly clientId?: string | null;
  readonly keyFingerprint?: string | null;
}

export interface AuditRow extends AuditEntry {
  readonly id: number;
  /** The last occurrence. */
  readonly time: string;
  /** Occurrences merged into this row (repeated refusals from one source). */
  readonly count: number;
  /** The first occurrence. */
  readonly firstTime: string;
}

/** How long the audit keeps rows, and how many. */
export interface AuditRetention {
  readonly maxRows: number;
  readonly maxAgeDays: number;
}

export const DEFAULT_AUDIT_RETENTION: AuditRetention = { maxRows: 100_000, maxAgeDays: 90 };

/** Refusals repeated within this time from one source go into one row. */
const MERGE_WINDOW_MS = 10 * 60_000;
/** Merge keys remembered at once. */
const MERGE_KEYS = 10_000;

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
  /** Merge key -> the audit row that repeated refusals from one source go into. */
  readonly #merged = new Map<string, { id: number; at: number }>();
  #retention: AuditRetention = DEFAULT_AUDIT_RETENTION;
  #insertsSincePrune = 0;

  constructor(path: string, opts: { readonly?: boolean } = {}) {
    if (opts.readonly) {
      // A backup to inspect: never created, changed or migrated.
      this.#db = new Database(path, { readonly: true, fileMustExist: true });
      this.secrets = new SecretStore(this.#db);
      return;
    }
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    this.#migrate();
    this.secrets = new SecretStore(this.#db);
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
    this.#insertAudit(entry, time);
  }

  #insertAudit(entry: AuditEntry, time: string): number {
    const id = Number(
      this.#db
        .prepare(
          'INSERT INTO audit (time, first_time, event, route, source, outcome, reason, secret_id, client_id, key_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)',
        )
        .run(
          time,
          time,
          entry.event,
          entry.route ?? null,
          entry.source ?? null,
          entry.outcome,
          entry.reason ?? null,
          entry.secretId ?? null,
          entry.clientId ?? null,
          entry.keyFingerprint ?? null,
        ).lastInsertRowid,
    );
    const every = Math.max(1, Math.min(1000, Math.floor(this.#retention.maxRows / 10)));
    if (++this.#insertsSincePrune >= every) this.pruneAudit(Date.parse(time));
    return id;
  }

  /**
   * Audits a refusal, merging it into the row of the same refusal from the
   * same source within the last ten minutes (count and last time), so an
   * unauthenticated flood adds one row, not one per request.
   */
  auditRepeated(entry: AuditEntry, time: string): void {
    const at = Date.parse(time);
    const key = [entry.event, entry.route, entry.source, entry.outcome, entry.reason].join(
      '\u0000',
    );
    const last = this.#merged.get(key);
    if (last && at - last.at <= MERGE_WINDOW_MS) {
      const changed = this.#db
        .prepare('UPDATE audit SET count = count + 1, time = ? WHERE id = ?')
        .run(time, last.id).changes;
      if (changed === 1) return;
    }
    const id = this.#insertAudit(entry, time);
    this.#merged.delete(key);
    this.#merged.set(key, { id, at });
    if (this.#merged.size > MERGE_KEYS)
      this.#merged.delete(this.#merged.keys().next().value as string);
  }

  /** Sets how many audit rows, and how old, are kept; prunes at once. */
  setAuditRetention(retention: AuditRetention, now: number): void {
    this.#retention = retention;
    this.pruneAudit(now);
  }

  /** Drops audit rows past the retention limits; returns how many. */
  pruneAudit(now: number): number {
    this.#insertsSincePrune = 0;
    const cutoff = new Date(now - this.#retention.maxAgeDays * 86_400_000).toISOString();
    const { max } = this.#db.prepare('SELECT MAX(id) AS max FROM audit').get() as {
      max: number | null;
    };
    if (max === null) return 0;
    return this.#db
      .prepare('DELETE FROM audit WHERE time < ? OR id <= ?')
      .run(cutoff, max - this.#retention.maxRows).changes;
  }

  /** Audit rows and the occurrences they stand for. */
  countAudit(): { rows: number; occurrences: number } {
    return this.#db
      .prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(count), 0) AS occurrences FROM audit')
      .get() as { rows: number; occurrences: number };
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
    const rows = (
      event === undefined
        ? this.#db.prepare('SELECT * FROM audit ORDER BY time DESC, id DESC LIMIT ?').all(limit)
        : this.#db
            .prepare('SELECT * FROM audit WHERE event = ? ORDER BY time DESC, id DESC LIMIT ?')
            .all(event, limit)
    ) as Record<string, unknown>[];
    return rows.map(toAuditRow);
  }
}

/** An audit row (SQLite or PostgreSQL: the same columns) as an AuditRow. */
export function toAuditRow(r: Record<string, unknown>): AuditRow {
  return {
    id: Number(r.id),
    time: r.time as string,
    count: r.count as number,
    firstTime: (r.first_time as string | null) ?? (r.time as string),
    event: r.event as string,
    route: (r.route as string | null) ?? undefined,
    source: (r.source as string | null) ?? undefined,
    outcome: r.outcome as string,
    reason: (r.reason as string | null) ?? undefined,
    secretId: r.secret_id as string | null,
    clientId: r.client_id as string | null,
    keyFingerprint: r.key_fingerprint as string | null,
  };
}

/**
 * A new client's values in the order of the insert's columns (client_id,
 * key_fingerprint, client_key, machine_id, hostname, os, arch,
 * agent_version, install_id, route, seen_as, secret_id, registered_at),
 * as both stores insert them.
 */
export function clientValues(row: ClientRow & { clientKey: string }): (string | null)[] {
  return [
    row.clientId,
    row.keyFingerprint,
    row.clientKey,
    row.machineId,
    row.hostname,
    row.os,
    row.arch,
    row.agentVersion,
    row.installId,
    row.route,
    row.seenAs,
    row.secretId,
    row.registeredAt,
  ];
}

/** A clients row (SQLite or PostgreSQL: the same columns) as a ClientRow. */
export function toClient(r: Record<string, unknown>): ClientRow {
  return {
    clientId: r.client_id as string,
    keyFingerprint: r.key_fingerprint as string,
    machineId: r.machine_id as string,
    hostname: r.hostname as string,
    os: r.os as string,
    arch: r.arch as string,
    agentVersion: r.agent_version as string,
    installId: r.install_id as string,
    route: r.route as string,
    seenAs: r.seen_as as string,
    secretId: r.secret_id as string | null,
    registeredAt: r.registered_at as string,
    supersededBy: r.superseded_by as string | null,
  };
}
