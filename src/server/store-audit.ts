/**
 * The SQLite store's audit log: rows appended, repeated refusals from one
 * source merged into one row, and rows past the retention limits dropped.
 */
import type { Database as Db } from 'better-sqlite3';
import { DEFAULT_AUDIT_RETENTION, toAuditRow } from './store-rows.ts';
import type { AuditEntry, AuditRetention, AuditRow } from './store-rows.ts';

/** Refusals repeated within this time from one source go into one row. */
const MERGE_WINDOW_MS = 10 * 60_000;
/** Merge keys remembered at once. */
const MERGE_KEYS = 10_000;

export class AuditLog {
  readonly #db: Db;
  /** Merge key -> the audit row that repeated refusals from one source go into. */
  readonly #merged = new Map<string, { id: number; at: number }>();
  #retention: AuditRetention = DEFAULT_AUDIT_RETENTION;
  #insertsSincePrune = 0;

  constructor(db: Db) {
    this.#db = db;
  }

  add(entry: AuditEntry, time: string): void {
    this.#insert(entry, time);
  }

  #insert(entry: AuditEntry, time: string): number {
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
    if (++this.#insertsSincePrune >= every) this.prune(Date.parse(time));
    return id;
  }

  /**
   * Audits a refusal, merging it into the row of the same refusal from the
   * same source within the last ten minutes (count and last time), so an
   * unauthenticated flood adds one row, not one per request.
   */
  addRepeated(entry: AuditEntry, time: string): void {
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
    const id = this.#insert(entry, time);
    this.#merged.delete(key);
    this.#merged.set(key, { id, at });
    if (this.#merged.size > MERGE_KEYS)
      this.#merged.delete(this.#merged.keys().next().value as string);
  }

  /** Sets how many audit rows, and how old, are kept; prunes at once. */
  setRetention(retention: AuditRetention, now: number): void {
    this.#retention = retention;
    this.prune(now);
  }

  /** Drops audit rows past the retention limits; returns how many. */
  prune(now: number): number {
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
  count(): { rows: number; occurrences: number } {
    return this.#db
      .prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(count), 0) AS occurrences FROM audit')
      .get() as { rows: number; occurrences: number };
  }

  /** The audit entries seen last (a merged row by its last occurrence), of one event kind if given. */
  list(limit = 50, event?: string): AuditRow[] {
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
