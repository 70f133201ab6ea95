/**
 * The registration state in PostgreSQL, for instances sharing one store:
 * the open handshakes, each source's limiter entry and the alarm's minute
 * buckets, with the decisions of rate-limit.ts unchanged. A source's
 * entry row is locked while a start, failure or success reads and writes
 * it, so that starts from one source on several instances are decided
 * one after the other, exactly as in one process; a handshake is taken
 * out by the one DELETE that returns it, so an M3 or an expiry is
 * handled once across the estate.
 *
 * On every registration's path: a start is two round trips (statements
 * sent together as one text, their values quoted by pg), the rest one or
 * two.
 */
import { decodePending, encodePending } from '../protocol/index.ts';
import type { PendingHandshake } from '../protocol/index.ts';
import { admitEntry, DEFAULT_LIMITS, failEntry, freshEntry, refreshEntry } from './rate-limit.ts';
import type { GuessLimits, LimiterEntry } from './rate-limit.ts';
import type {
  RegistrationState,
  StartAdmission,
  StartRequest,
  Taken,
  TakenHandshake,
} from './state-api.ts';
import { runScript, sqlLiteral as lit } from './store-pg-db.ts';
import type { PgDb } from './store-pg-db.ts';

/** Retry-After of a start refused because the whole table is full (as registration.ts says). */
const BUSY_RETRY_MS = 1_000;
/** How often an instance clears the entries of sources that have nothing left to remember. */
const SWEEP_EVERY_MS = 60_000;

type Row = Record<string, unknown>;

/** Column of guess_sources -> field of LimiterEntry. */
const ENTRY_COLUMNS = [
  ['failures', 'failures'],
  ['window_start', 'windowStart'],
  ['blocked_until', 'blockedUntil'],
  ['successes', 'successes'],
  ['success_start', 'successStart'],
  ['tokens', 'tokens'],
  ['refilled_at', 'refilledAt'],
] as const satisfies readonly (readonly [string, keyof LimiterEntry])[];

function toEntry(r: Row): LimiterEntry {
  const e = {} as LimiterEntry;
  for (const [column, field] of ENTRY_COLUMNS) e[field] = Number(r[column]);
  return e;
}

function toTaken(r: Row): TakenHandshake {
  return {
    hsId: r.hs_id as string,
    source: r.source as string,
    network: r.network as string,
    guess: r.guess as boolean,
    pending: r.pending === null ? null : decodePending(r.pending as string),
  };
}

export class PgRegistrationState implements RegistrationState {
  readonly #db: PgDb;
  readonly #limits: GuessLimits;
  readonly #maxHandshakes: number;
  #sweptAt = -Infinity;

  constructor(
    store: { readonly db: PgDb },
    opts: { limits: Partial<GuessLimits>; maxHandshakes: number },
  ) {
    this.#db = store.db;
    this.#limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.#maxHandshakes = opts.maxHandshakes;
  }

  /**
   * BEGIN and the source's entry, created fresh if missing and locked
   * until COMMIT (an upsert that updates nothing but takes the row lock:
   * no gap between creating and locking for a sweep to fall into).
   */
  #lockEntry(key: string, now: number): string {
    const fresh = freshEntry(now, this.#limits);
    const values = ENTRY_COLUMNS.map(([, field]) => lit(fresh[field])).join(', ');
    return `BEGIN;
      INSERT INTO guess_sources (key, ${ENTRY_COLUMNS.map(([c]) => c).join(', ')})
      VALUES (${lit(key)}, ${values})
      ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING *;`;
  }

  #writeEntry(key: string, e: LimiterEntry): string {
    const sets = ENTRY_COLUMNS.map(([c, field]) => `${c} = ${lit(e[field])}`).join(', ');
    return `UPDATE guess_sources SET ${sets} WHERE key = ${lit(key)};`;
  }

  async admitStart(req: StartRequest): Promise<StartAdmission> {
    const o = this.#limits;
    return this.#db.withClient(async (client) => {
      // The counts are a statement of their own after the lock: a start
      // this one waited for has committed its reservation by then, and a
      // statement started afterwards sees it.
      // Then the network's lock: its open handshakes are counted by one start at a time too
      // (a source's network never changes, so every start takes the two in the same order).
      const [, locked, , counted] = await runScript(
        client,
        `${this.#lockEntry(req.source, req.now)}
         SELECT pg_advisory_xact_lock(hashtextextended(${lit(`network:${req.network}`)}, 0));
         SELECT (SELECT count(*) FROM handshakes)::int AS total,
           (SELECT count(*) FROM handshakes WHERE source = ${lit(req.source)})::int AS open,
           (SELECT count(*) FROM handshakes WHERE source = ${lit(req.source)} AND guess)::int AS guesses,
           (SELECT count(*) FROM handshakes
             WHERE network = ${lit(req.network)} AND network <> '')::int AS network`,
      );
      const c = counted?.rows[0] as {
        total: number;
        open: number;
        guesses: number;
        network: number;
      };
      const e = refreshEntry(toEntry(locked?.rows[0] as Row), req.now, o);
      let admission: StartAdmission = admitEntry(
        e,
        req.now,
        o,
        { open: c.open, guesses: c.guesses },
        req.guess,
        c.network,
      );
      // As in one process: the limits first (a busy refusal still spends the token), then room.
      if (admission.ok && c.total >= this.#maxHandshakes)
        admission = { ok: false, reason: 'busy', retryAfterMs: BUSY_RETRY_MS };
      const reserve = admission.ok
        ? `INSERT INTO handshakes (hs_id, source, network, guess, expires_at)
           VALUES (${lit(req.hsId)}, ${lit(req.source)}, ${lit(req.network)}, ${lit(req.guess)},
             ${lit(req.expiresAt)});`
        : '';
      await runScript(client, `${this.#writeEntry(req.source, e)} ${reserve} COMMIT`);
      return admission;
    });
  }

  async open(pending: PendingHandshake): Promise<void> {
    await this.#db.query('UPDATE handshakes SET pending = $1 WHERE hs_id = $2', [
      encodePending(pending),
      pending.hsId,
    ]);
  }

  async cancel(hsId: string): Promise<void> {
    await this.#db.query('DELETE FROM handshakes WHERE hs_id = $1', [hsId]);
  }

  async take(hsId: string, now: number): Promise<Taken> {
    const { rows } = await this.#db.query('DELETE FROM handshakes WHERE hs_id = $1 RETURNING *', [
      hsId,
    ]);
    const r = rows[0];
    if (!r) return { found: false };
    return { found: true, expired: Number(r.expires_at) <= now, open: toTaken(r) };
  }

  async prune(now: number): Promise<TakenHandshake[]> {
    const { rows } = await this.#db.query<Row & { expires_at: string }>(
      'DELETE FROM handshakes WHERE expires_at <= $1 RETURNING *',
      [now],
    );
    if (now - this.#sweptAt >= SWEEP_EVERY_MS) {
      this.#sweptAt = now;
      await this.#sweep(now);
    }
    // Expiry order, as the table in one process hands them back.
    return rows.sort((a, b) => Number(a.expires_at) - Number(b.expires_at)).map(toTaken);
  }

  /**
   * Forgets the entries that would act exactly like a fresh one from now
   * on: not blocked, no failure window running, the success window over
   * (a fresh entry's starts now; an older one would end sooner, with any
   * bonus in it) and the start bucket full again.
   */
  async #sweep(now: number): Promise<void> {
    const o = this.#limits;
    await this.#db.query(
      `DELETE FROM guess_sources
       WHERE blocked_until <= $1 AND (failures = 0 OR $1 - window_start > $2)
         AND $1 - success_start > $3
         AND refilled_at + ($4 - tokens) * 1000 / $5 <= $1`,
      [now, o.windowMs, o.successWindowMs, o.startBurst, o.startsPerSecond],
    );
  }

  /** Reads, changes and writes back one source's entry under its row lock. */
  #change<T>(key: string, now: number, fn: (e: LimiterEntry) => T): Promise<T> {
    return this.#db.withClient(async (client) => {
      const [, locked] = await runScript(client, this.#lockEntry(key, now));
      const e = refreshEntry(toEntry(locked?.rows[0] as Row), now, this.#limits);
      const result = fn(e);
      await runScript(client, `${this.#writeEntry(key, e)} COMMIT`);
      return result;
    });
  }

  recordFailure(source: string, now: number): Promise<number> {
    return this.#change(source, now, (e) => failEntry(e, now, this.#limits));
  }

  recordSuccess(source: string, now: number): Promise<void> {
    return this.#change(source, now, (e) => {
      e.successes += 1;
    });
  }

  async alarmRecord(now: number): Promise<void> {
    await this.#db.query(
      `INSERT INTO guess_minutes (minute, count) VALUES ($1, 1)
       ON CONFLICT (minute) DO UPDATE SET count = guess_minutes.count + 1`,
      [Math.floor(now / 60_000)],
    );
  }

  async alarmLastHour(now: number): Promise<number> {
    const { rows } = await this.#db.query<{ n: number }>(
      `WITH old AS (DELETE FROM guess_minutes WHERE minute <= $1 - 60)
       SELECT COALESCE(sum(count), 0)::int AS n FROM guess_minutes WHERE minute > $1 - 60`,
      [Math.floor(now / 60_000)],
    );
    return rows[0]?.n ?? 0;
  }

  /** The connections belong to the store, which closes them. */
  async close(): Promise<void> {}
}
