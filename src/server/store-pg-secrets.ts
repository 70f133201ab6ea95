/**
 * The secrets table in PostgreSQL, with the semantics of store-secrets.ts
 * (usable = not removed, not expired, not used up) made safe for several
 * instances: the limit check of `add` is serialized by an advisory lock,
 * uses are counted by the database, and a retired secret is marked by the
 * one UPDATE that reports it, so each is reported once across the estate.
 */
import type { SecretsApi } from './store-api.ts';
import type { PgDb } from './store-pg-db.ts';
import { usableWhere } from './store-secrets.ts';
import type { NewSecret, RetiredReason, SecretRow } from './store-secrets.ts';

/** The SQL condition of a usable secret, `now` being parameter $n. */
export const usable = (n: number): string => usableWhere(`$${n}`);

/** Serializes `add` across instances; an arbitrary constant of this program. */
const ADD_LOCK = 0x6362_5f73_6563; // "cb_sec"

interface Raw {
  id: string;
  label: string;
  created_at: string;
  last_used_at: string | null;
  use_count: number;
  weak: boolean;
  expires_at: string | null;
  max_uses: number | null;
}

const RAW_COLUMNS = 'id, label, created_at, last_used_at, use_count, weak, expires_at, max_uses';

/** Why a stored secret is not usable at `now`, or 'active' (as in store-secrets.ts). */
function stateOf(r: Raw, now: string): SecretRow['state'] {
  if (r.expires_at !== null && r.expires_at <= now) return 'expired';
  if (r.max_uses !== null && r.use_count >= r.max_uses) return 'used_up';
  return 'active';
}

export class PgSecrets implements SecretsApi {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async usableWithPrs(now: string): Promise<{ id: string; prs: Buffer }[]> {
    const { rows } = await this.#db.query<{ id: string; prs: Buffer }>(
      `SELECT id, prs FROM secrets WHERE ${usable(1)} ORDER BY created_at, seq`,
      [now],
    );
    return rows;
  }

  async list(now: string): Promise<SecretRow[]> {
    const { rows } = await this.#db.query<Raw>(
      `SELECT ${RAW_COLUMNS} FROM secrets WHERE removed_at IS NULL ORDER BY created_at, seq`,
    );
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      useCount: r.use_count,
      weak: r.weak,
      expiresAt: r.expires_at,
      maxUses: r.max_uses,
      state: stateOf(r, now),
    }));
  }

  async isUsable(id: string, now: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `SELECT 1 FROM secrets WHERE id = $2 AND ${usable(1)}`,
      [now, id],
    );
    return rowCount === 1;
  }

  add(row: NewSecret, limit: number): Promise<boolean> {
    return this.#db.transaction(async (client) => {
      // Two instances adding at once would both count below the limit.
      await client.query('SELECT pg_advisory_xact_lock($1)', [ADD_LOCK]);
      // A statement after the lock: its snapshot sees what the other committed.
      const { rowCount } = await client.query(
        `INSERT INTO secrets (id, label, prs, weak, created_at, expires_at, max_uses)
         SELECT $2::text, $3::text, $4::bytea, $5::boolean, $1::text, $6::text, $7::integer
         WHERE (SELECT count(*) FROM secrets WHERE ${usable(1)}) < $8::integer`,
        [
          row.createdAt,
          row.id,
          row.label,
          row.prs,
          row.weak,
          row.expiresAt ?? null,
          row.maxUses ?? null,
          limit,
        ],
      );
      return rowCount === 1;
    });
  }

  async remove(id: string, at: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE secrets SET removed_at = $1, prs = '\\x${'00'.repeat(32)}'::bytea
       WHERE id = $2 AND removed_at IS NULL`,
      [at, id],
    );
    return rowCount === 1;
  }

  async markUsed(id: string, at: string, newClient: boolean): Promise<void> {
    await this.#db.query(
      'UPDATE secrets SET use_count = use_count + $1, last_used_at = $2 WHERE id = $3 AND removed_at IS NULL',
      [newClient ? 1 : 0, at, id],
    );
  }

  async takeNewlyRetired(now: string): Promise<{ id: string; reason: RetiredReason }[]> {
    // An instance running the same UPDATE at once waits for this one and
    // then finds retired_at set: each secret is reported by one of them.
    const { rows } = await this.#db.query<Raw & { seq: string }>(
      `UPDATE secrets SET retired_at = $1
       WHERE removed_at IS NULL AND retired_at IS NULL AND NOT (${usable(1)})
       RETURNING ${RAW_COLUMNS}, seq`,
      [now],
    );
    return rows
      .sort((a, b) => Number(a.seq) - Number(b.seq))
      .map((r) => ({ id: r.id, reason: stateOf(r, now) as RetiredReason }));
  }
}
