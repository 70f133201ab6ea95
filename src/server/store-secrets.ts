/**
 * The secrets table of the server's store: PRS only, never a secret. A
 * secret is usable while it is not removed, not past its expiry and not
 * used up; an unusable one is never offered as a share, exactly like a
 * removed one. Uses count registrations of new clients only.
 */
import type { Database as Db } from 'better-sqlite3';

/** Why a secret that was not removed is no longer offered. */
export type RetiredReason = 'expired' | 'used_up';

export interface SecretRow {
  readonly id: string;
  readonly label: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  /** Registrations of new clients made with it. */
  readonly useCount: number;
  readonly weak: boolean;
  /** When it stops being accepted (ISO time), or null. */
  readonly expiresAt: string | null;
  /** How many new clients it may register, or null for no limit. */
  readonly maxUses: number | null;
  /** `active`, or why it is no longer offered. */
  readonly state: 'active' | RetiredReason;
}

export interface NewSecret {
  readonly id: string;
  readonly label: string;
  readonly prs: Buffer;
  readonly weak: boolean;
  readonly createdAt: string;
  readonly expiresAt?: string | null;
  readonly maxUses?: number | null;
}

/** The SQL condition of a usable secret (either store), `now` being the placeholder of an ISO time. */
export const usableWhere = (now: string): string =>
  `removed_at IS NULL AND (expires_at IS NULL OR expires_at > ${now}) AND (max_uses IS NULL OR use_count < max_uses)`;

const USABLE = usableWhere('@now');

/** Columns the secrets table gained after 0.1.0 (added by the store's migration). */
export const SECRET_COLUMNS: readonly [table: string, column: string, definition: string][] = [
  ['secrets', 'expires_at', 'TEXT'],
  ['secrets', 'max_uses', 'INTEGER'],
  ['secrets', 'retired_at', 'TEXT'],
];

interface Raw {
  id: string;
  label: string;
  created_at: string;
  last_used_at: string | null;
  use_count: number;
  weak: number;
  expires_at: string | null;
  max_uses: number | null;
}

/** Why a stored secret is not usable at `now`, or 'active'. */
function stateOf(r: Raw, now: string): SecretRow['state'] {
  if (r.expires_at !== null && r.expires_at <= now) return 'expired';
  if (r.max_uses !== null && r.use_count >= r.max_uses) return 'used_up';
  return 'active';
}

export class SecretStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** The usable secrets and their PRS, oldest first: the shares a start offers. */
  usableWithPrs(now: string): { id: string; prs: Buffer }[] {
    return this.#db
      .prepare(`SELECT id, prs FROM secrets WHERE ${USABLE} ORDER BY created_at, rowid`)
      .all({ now }) as { id: string; prs: Buffer }[];
  }

  /** Every secret not removed (expired and used-up ones too, with their state), oldest first. */
  list(now: string): SecretRow[] {
    const rows = this.#db
      .prepare(
        'SELECT id, label, created_at, last_used_at, use_count, weak, expires_at, max_uses FROM secrets WHERE removed_at IS NULL ORDER BY created_at, rowid',
      )
      .all() as Raw[];
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      useCount: r.use_count,
      weak: r.weak === 1,
      expiresAt: r.expires_at,
      maxUses: r.max_uses,
      state: stateOf(r, now),
    }));
  }

  isUsable(id: string, now: string): boolean {
    return (
      this.#db.prepare(`SELECT 1 FROM secrets WHERE id = @id AND ${USABLE}`).get({ id, now }) !==
      undefined
    );
  }

  /** Adds a secret unless `limit` are already usable; the check and insert are one transaction. */
  add(row: NewSecret, limit: number): boolean {
    return this.#db.transaction(() => {
      const { n } = this.#db
        .prepare(`SELECT COUNT(*) AS n FROM secrets WHERE ${USABLE}`)
        .get({ now: row.createdAt }) as { n: number };
      if (n >= limit) return false;
      this.#db
        .prepare(
          'INSERT INTO secrets (id, label, prs, weak, created_at, expires_at, max_uses) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          row.id,
          row.label,
          row.prs,
          row.weak ? 1 : 0,
          row.createdAt,
          row.expiresAt ?? null,
          row.maxUses ?? null,
        );
      return true;
    })();
  }

  /** Removes a secret that is not removed yet (usable or not); its PRS is overwritten. */
  remove(id: string, at: string): boolean {
    return (
      this.#db
        .prepare(
          'UPDATE secrets SET removed_at = ?, prs = zeroblob(32) WHERE id = ? AND removed_at IS NULL',
        )
        .run(at, id).changes === 1
    );
  }

  /** Records a registration made with a secret; only a new client counts as a use. */
  markUsed(id: string, at: string, newClient: boolean): void {
    this.#db
      .prepare(
        'UPDATE secrets SET use_count = use_count + ?, last_used_at = ? WHERE id = ? AND removed_at IS NULL',
      )
      .run(newClient ? 1 : 0, at, id);
  }

  /**
   * Secrets that stopped being usable (expired or used up) since the last
   * call, each reported once with why; the caller audits them.
   */
  takeNewlyRetired(now: string): { id: string; reason: RetiredReason }[] {
    return this.#db.transaction(() => {
      const rows = this.#db
        .prepare(
          `SELECT id, label, created_at, last_used_at, use_count, weak, expires_at, max_uses FROM secrets
           WHERE removed_at IS NULL AND retired_at IS NULL AND NOT (${USABLE})`,
        )
        .all({ now }) as Raw[];
      const mark = this.#db.prepare('UPDATE secrets SET retired_at = ? WHERE id = ?');
      return rows.map((r) => {
        mark.run(now, r.id);
        return { id: r.id, reason: stateOf(r, now) as RetiredReason };
      });
    })();
  }
}
