/**
 * One PostgreSQL for a test file, and fresh databases with PgStore objects
 * (instances) on them: each test gets databases of its own, and every store
 * it opened is closed after it.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { PgStore } from '../../src/server/store-pg.ts';
import type { PgOptions } from '../../src/server/store-pg-db.ts';
import { startPostgres } from './postgres.ts';
import type { PostgresHandle } from './postgres.ts';

export interface PgStores {
  /** The file's PostgreSQL (started before its first test). */
  readonly pg: PostgresHandle;
  /** How many databases `open` has made. */
  readonly databases: number;
  /** The stores open in this test, in the order they were opened. */
  readonly opened: readonly PgStore[];
  /** A fresh database (`<prefix>_<n>`) and `n` stores on it. */
  open(n: number, opts?: PgOptions): Promise<{ url: string; stores: PgStore[] }>;
  /** Stores opened otherwise, to close after the test as well. */
  track(...stores: PgStore[]): void;
}

/** Registers the file's hooks; call at the top of a test file. */
export function pgStoresPerFile(prefix: string): PgStores {
  let pg: PostgresHandle | undefined;
  let databases = 0;
  const opened: PgStore[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await pg?.stop();
  });
  const running = (): PostgresHandle => {
    if (!pg) throw new Error('PostgreSQL is started before the first test');
    return pg;
  };
  return {
    get pg() {
      return running();
    },
    get databases() {
      return databases;
    },
    opened,
    async open(n, opts) {
      const url = await running().createDatabase(`${prefix}_${++databases}`);
      const stores = await Promise.all(Array.from({ length: n }, () => PgStore.open(url, opts)));
      opened.push(...stores);
      return { url, stores };
    },
    track(...stores) {
      opened.push(...stores);
    },
  };
}
