/**
 * The server's SQLite store (WAL): settings, secrets (PRS only), clients and
 * the audit log. The command line and the running server open the same
 * file; `version()` tells a reader when another connection has committed.
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';

export type AuthMode = 'none' | 'internet' | 'all';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'internet', 'all'];

export interface SecretRow {
  readonly id: string;
  readonly label: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly useCount: number;
  readonly weak: boolean;
}

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
  readonly time: string;
}

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
`;

/** The store; every method is synchronous and short. */
export class Store {
  readonly #db: Db;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
  }

  close(): void {
    this.#db.close();
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

  activeSecretsWithPrs(): { id: string; prs: Buffer }[] {
    return this.#db
      .prepare('SELECT id, prs FROM secrets WHERE removed_at IS NULL ORDER BY created_at')
      .all() as { id: string; prs: Buffer }[];
  }

  listSecrets(): SecretRow[] {
    const rows = this.#db
      .prepare(
        'SELECT id, label, created_at, last_used_at, use_count, weak FROM secrets WHERE removed_at IS NULL ORDER BY created_at, rowid',
      )
      .all() as {
      id: string;
      label: string;
      created_at: string;
      last_used_at: string | null;
      use_count: number;
      weak: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      useCount: r.use_count,
      weak: r.weak === 1,
    }));
  }

  isSecretActive(id: string): boolean {
    return (
      this.#db.prepare('SELECT 1 FROM secrets WHERE id = ? AND removed_at IS NULL').get(id) !==
      undefined
    );
  }

  /** Adds a secret unless `limit` are already active; the check and insert are one transaction. */
  addSecret(
    row: { id: string; label: string; prs: Buffer; weak: boolean; createdAt: string },
    limit: number,
  ): boolean {
    return this.#db.transaction(() => {
      const { n } = this.#db
        .prepare('SELECT COUNT(*) AS n FROM secrets WHERE removed_at IS NULL')
        .get() as { n: number };
      if (n >= limit) return false;
      this.#db
        .prepare('INSERT INTO secrets (id, label, prs, weak, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(row.id, row.label, row.prs, row.weak ? 1 : 0, row.createdAt);
      return true;
    })();
  }

  removeSecret(id: string, at: string): boolean {
    return (
      this.#db
        .prepare(
          'UPDATE secrets SET removed_at = ?, prs = zeroblob(32) WHERE id = ? AND removed_at IS NULL',
        )
        .run(at, id).changes === 1
    );
  }

  markSecretUsed(id: string, at: string): void {
    this.#db
      .prepare('UPDATE secrets SET use_count = use_count + 1, last_used_at = ? WHERE id = ?')
      .run(at, id);
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
  registerClient(row: ClientRow & { clientKey: string }): { client: ClientRow; created: boolean } {
    return this.#db.transaction(() => {
      const existing = this.clientByFingerprint(row.keyFingerprint);
      if (existing) return { client: existing, created: false };
      this.#db
        .prepare(
          `INSERT INTO clients (client_id, key_fingerprint, client_key, machine_id, hostname, os, arch, agent_version,
           install_id, route, seen_as, secret_id, registered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(
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
        );
      this.#db
        .prepare(
          'UPDATE clients SET superseded_by = ? WHERE machine_id = ? AND client_id != ? AND superseded_by IS NULL',
        )
        .run(row.clientId, row.machineId, row.clientId);
      return { client: this.clientByFingerprint(row.keyFingerprint) as ClientRow, created: true };
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
    this.#db
      .prepare(
        'INSERT INTO audit (time, event, route, source, outcome, reason, secret_id, client_id, key_fingerprint) VALUES (?,?,?,?,?,?,?,?,?)',
      )
      .run(
        time,
        entry.event,
        entry.route ?? null,
        entry.source ?? null,
        entry.outcome,
        entry.reason ?? null,
        entry.secretId ?? null,
        entry.clientId ?? null,
        entry.keyFingerprint ?? null,
      );
  }

  /** The newest audit entries, of one event kind if given. */
  listAudit(limit = 50, event?: string): AuditRow[] {
    const rows = (
      event === undefined
        ? this.#db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit)
        : this.#db
            .prepare('SELECT * FROM audit WHERE event = ? ORDER BY id DESC LIMIT ?')
            .all(event, limit)
    ) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as number,
      time: r.time as string,
      event: r.event as string,
      route: (r.route as string | null) ?? undefined,
      source: (r.source as string | null) ?? undefined,
      outcome: r.outcome as string,
      reason: (r.reason as string | null) ?? undefined,
      secretId: r.secret_id as string | null,
      clientId: r.client_id as string | null,
      keyFingerprint: r.key_fingerprint as string | null,
    }));
  }
}

function toClient(r: Record<string, unknown>): ClientRow {
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
