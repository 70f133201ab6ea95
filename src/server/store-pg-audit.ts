/**
 * The audit log in PostgreSQL, as the SQLite store keeps it (store.ts),
 * with refusals merged across instances: a repeated refusal goes into the
 * newest row of the same refusal from the same source first seen within
 * ten minutes, whichever instance wrote that row.
 */
import type { PgDb } from './store-pg-db.ts';
import { DEFAULT_AUDIT_RETENTION, toAuditRow } from './store-rows.ts';
import type { AuditEntry, AuditRetention, AuditRow } from './store-rows.ts';

/** Refusals repeated within this time from one source go into one row (as in store.ts). */
const MERGE_WINDOW_MS = 10 * 60_000;

export class PgAudit {
  readonly #db: PgDb;
  #retention: AuditRetention = DEFAULT_AUDIT_RETENTION;
  #insertsSincePrune = 0;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async audit(entry: AuditEntry, time: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO audit (time, first_time, event, route, source, outcome, reason, secret_id, client_id, key_fingerprint)
       VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [time, ...auditValues(entry)],
    );
    await this.#inserted(time);
  }

  /**
   * Audits a refusal, merged into the newest row of the same refusal from
   * the same source first seen within ten minutes, whichever instance
   * wrote it; one statement. Two instances that both find no row yet each
   * insert one: a flood still adds a handful of rows, not one per request.
   */
  async auditRepeated(entry: AuditEntry, time: string): Promise<void> {
    const cutoff = new Date(Date.parse(time) - MERGE_WINDOW_MS).toISOString();
    const { rowCount } = await this.#db.query(
      `WITH hit AS (
         UPDATE audit SET count = count + 1, time = $1
         WHERE id = (
           SELECT id FROM audit
           WHERE repeated AND event = $2 AND route IS NOT DISTINCT FROM $3
             AND source IS NOT DISTINCT FROM $4 AND outcome = $5 AND reason IS NOT DISTINCT FROM $6
             AND first_time >= $10
           ORDER BY id DESC LIMIT 1)
         RETURNING id)
       INSERT INTO audit (time, first_time, event, route, source, outcome, reason, secret_id, client_id,
         key_fingerprint, repeated)
       SELECT $1, $1, $2, $3, $4, $5, $6, $7::text, $8::text, $9::text, true WHERE NOT EXISTS (SELECT 1 FROM hit)`,
      [time, ...auditValues(entry), cutoff],
    );
    if (rowCount === 1) await this.#inserted(time);
  }

  /** Prunes every so many inserts of this instance, as the SQLite store does. */
  async #inserted(time: string): Promise<void> {
    const every = Math.max(1, Math.min(1000, Math.floor(this.#retention.maxRows / 10)));
    if (++this.#insertsSincePrune >= every) await this.prune(Date.parse(time));
  }

  async setRetention(retention: AuditRetention, now: number): Promise<void> {
    this.#retention = retention;
    await this.prune(now);
  }

  async prune(now: number): Promise<number> {
    this.#insertsSincePrune = 0;
    const cutoff = new Date(now - this.#retention.maxAgeDays * 86_400_000).toISOString();
    const { rowCount } = await this.#db.query(
      'DELETE FROM audit WHERE time < $1 OR id <= (SELECT max(id) FROM audit) - $2',
      [cutoff, this.#retention.maxRows],
    );
    return rowCount ?? 0;
  }

  async count(): Promise<{ rows: number; occurrences: number }> {
    const { rows } = await this.#db.query<{ rows: number; occurrences: number }>(
      'SELECT count(*)::int AS rows, COALESCE(sum(count), 0)::int AS occurrences FROM audit',
    );
    return rows[0] ?? { rows: 0, occurrences: 0 };
  }

  async list(limit = 50, event?: string): Promise<AuditRow[]> {
    const { rows } = await this.#db.query(
      `SELECT * FROM audit WHERE ($2::text IS NULL OR event = $2) ORDER BY time DESC, id DESC LIMIT $1`,
      [limit, event ?? null],
    );
    return rows.map(toAuditRow);
  }
}

/** An audit entry's columns after the times: $2 to $9. */
function auditValues(e: AuditEntry): (string | null)[] {
  return [
    e.event,
    e.route ?? null,
    e.source ?? null,
    e.outcome,
    e.reason ?? null,
    e.secretId ?? null,
    e.clientId ?? null,
    e.keyFingerprint ?? null,
  ];
}
