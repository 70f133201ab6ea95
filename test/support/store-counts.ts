/**
 * What the server's store holds, counted in SQL with no limit: the ground
 * truth the herd, the throughput rows and the fault tests compare with what
 * their clients were told.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface StoreCounts {
  /** Rows in the clients table. */
  readonly rows: number;
  readonly distinctClientIds: number;
  readonly distinctKeys: number;
  /** Rows not superseded by a newer key from the same machine. */
  readonly active: number;
}

/** Counts the clients in a server's data directory (read-only; safe while it runs). */
export function countStoredClients(dataDir: string): StoreCounts {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `SELECT COUNT(*) AS rows, COUNT(DISTINCT client_id) AS distinctClientIds,
                COUNT(DISTINCT key_fingerprint) AS distinctKeys,
                COUNT(*) FILTER (WHERE superseded_by IS NULL) AS active FROM clients`,
      )
      .get() as StoreCounts;
  } finally {
    db.close();
  }
}

/** Every client id in the store. */
export function storedClientIds(dataDir: string): string[] {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT client_id AS id FROM clients').all() as { id: string }[]).map(
      (r) => r.id,
    );
  } finally {
    db.close();
  }
}

/**
 * Compares the store with the ids the clients received: one row per
 * registration, no duplicate, no id the store does not hold.
 */
export function compareWithStore(
  dataDir: string,
  received: readonly string[],
  before: readonly string[] = [],
): { counts: StoreCounts; problems: string[] } {
  const counts = countStoredClients(dataDir);
  const stored = new Set(storedClientIds(dataDir));
  const mine = new Set(received);
  const problems: string[] = [];
  if (mine.size !== received.length)
    problems.push(`clients received ${received.length - mine.size} duplicate ids`);
  if (counts.rows !== before.length + received.length)
    problems.push(
      `the store holds ${counts.rows} rows; expected ${before.length} before + ${received.length} registered`,
    );
  if (counts.distinctClientIds !== counts.rows) problems.push('the store repeats a client id');
  if (counts.distinctKeys !== counts.rows) problems.push('the store repeats a client key');
  const missing = received.filter((id) => !stored.has(id));
  if (missing.length > 0) problems.push(`${missing.length} received ids are not in the store`);
  return { counts, problems };
}
