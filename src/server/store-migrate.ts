/**
 * Moving one server from its SQLite data directory to a PostgreSQL store:
 * every row of settings, secrets, clients, audit and admin tokens, in one
 * PostgreSQL transaction, so the copy is whole or absent. A PostgreSQL
 * store that already holds another estate (another server id or key) or
 * any data is refused: two estates are never merged, and copying the same
 * file twice does not duplicate it. A file from an older release lacks
 * some columns; they take the defaults the SQLite store gives them.
 */
import Database from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { UserError } from '../common/errors.ts';
import type { PgStore } from './store-pg.ts';

type Row = Record<string, unknown>;

/** A target column: its PostgreSQL type, and its value when the SQLite file has no such column. */
interface Column {
  readonly name: string;
  readonly type: string;
  readonly absent?: unknown;
  /** From SQLite's value (an integer flag, say) to PostgreSQL's. */
  readonly convert?: (v: unknown) => unknown;
}

const text = (name: string, absent: string | null = null): Column => ({
  name,
  type: 'text',
  absent,
});
const flag = (v: unknown): boolean => v === 1 || v === 1n || v === true;

/** What is copied, table by table, in SQLite's order of insertion. */
const TABLES: readonly { name: string; order: string; columns: readonly Column[] }[] = [
  { name: 'settings', order: 'rowid', columns: [text('key'), text('value')] },
  {
    name: 'secrets',
    order: 'rowid',
    columns: [
      text('id'),
      text('label'),
      { name: 'prs', type: 'bytea' },
      { name: 'weak', type: 'boolean', absent: false, convert: flag },
      text('created_at'),
      text('last_used_at'),
      { name: 'use_count', type: 'integer', absent: 0 },
      text('removed_at'),
      text('expires_at'),
      { name: 'max_uses', type: 'integer', absent: null },
      text('retired_at'),
    ],
  },
  {
    name: 'clients',
    order: 'rowid',
    columns: [
      ...['client_id', 'key_fingerprint', 'client_key', 'machine_id', 'hostname', 'os', 'arch'].map(
        (n) => text(n),
      ),
      ...['agent_version', 'install_id', 'route', 'seen_as'].map((n) => text(n, '')),
      text('secret_id'),
      text('registered_at'),
      text('superseded_by'),
    ],
  },
  {
    // Ids kept: the retention limit counts rows by id.
    name: 'audit',
    order: 'id',
    columns: [
      { name: 'id', type: 'bigint' },
      text('time'),
      text('first_time'),
      { name: 'count', type: 'integer', absent: 1 },
      ...['event', 'route', 'source', 'outcome', 'reason', 'secret_id', 'client_id'].map((n) =>
        text(n),
      ),
      text('key_fingerprint'),
    ],
  },
  {
    name: 'admin_tokens',
    order: 'rowid',
    columns: [text('hash'), text('label'), text('created_at'), text('expires_at')],
  },
];

/** Rows sent in one INSERT. */
const BATCH = 2_000;

export interface CopyCounts {
  settings: number;
  secrets: number;
  clients: number;
  audit: number;
  adminTokens: number;
}

/** Every table's rows from the SQLite file, read in one snapshot. */
function readSqlite(path: string): Map<string, unknown[][]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.transaction(() => {
      const out = new Map<string, unknown[][]>();
      for (const t of TABLES) {
        const present = new Set(
          (db.prepare(`PRAGMA table_info(${t.name})`).all() as { name: string }[]).map(
            (c) => c.name,
          ),
        );
        if (present.size === 0) {
          out.set(t.name, []);
          continue;
        }
        const rows = db.prepare(`SELECT * FROM ${t.name} ORDER BY ${t.order}`).all() as Row[];
        out.set(
          t.name,
          rows.map((r) =>
            t.columns.map((c) => {
              if (!present.has(c.name)) return c.absent ?? null;
              const v = r[c.name] ?? null;
              return c.convert && v !== null ? c.convert(v) : v;
            }),
          ),
        );
      }
      return out;
    })();
  } finally {
    db.close();
  }
}

function notEmpty(location: string, why: string): UserError {
  return new UserError('store_not_empty', `the store ${location} ${why}; nothing was copied`, {
    hint: 'copy into a new, empty PostgreSQL database (the server instances not started on it yet)',
  });
}

/** Refuses a store that holds another estate or any data of its own. */
async function checkEmpty(
  client: PoolClient,
  location: string,
  settings: unknown[][],
): Promise<void> {
  const { rows } = await client.query<{ key: string; value: string }>(
    "SELECT key, value FROM settings WHERE key IN ('server_id', 'server_key')",
  );
  for (const { key, value } of rows) {
    const ours = settings.find((s) => s[0] === key)?.[1];
    if (ours !== value) {
      const id = rows.find((r) => r.key === 'server_id')?.value;
      throw notEmpty(location, `already belongs to another server${id ? ` (${id})` : ''}`);
    }
  }
  const counts = await client.query<{ name: string; n: number }>(
    `SELECT 'secrets' AS name, count(*)::int AS n FROM secrets UNION ALL
     SELECT 'clients', count(*)::int FROM clients UNION ALL
     SELECT 'audit entries', count(*)::int FROM audit UNION ALL
     SELECT 'admin tokens', count(*)::int FROM admin_tokens`,
  );
  const held = counts.rows.filter((r) => r.n > 0).map((r) => `${r.n} ${r.name}`);
  if (held.length > 0) throw notEmpty(location, `already holds ${held.join(', ')}`);
}

/** Inserts rows in batches: one array per column, unnested by PostgreSQL. */
async function insertAll(
  client: PoolClient,
  table: (typeof TABLES)[number],
  rows: unknown[][],
): Promise<void> {
  const names = table.columns.map((c) => c.name);
  const arrays = table.columns.map((c, i) => `$${i + 1}::${c.type}[]`);
  const conflict =
    table.name === 'settings' ? ' ON CONFLICT (key) DO UPDATE SET value = excluded.value' : '';
  for (let from = 0; from < rows.length; from += BATCH) {
    const batch = rows.slice(from, from + BATCH);
    // unnest keeps the order of the arrays, so identities follow SQLite's order.
    await client.query(
      `INSERT INTO ${table.name} (${names.join(', ')})
       SELECT * FROM unnest(${arrays.join(', ')})${conflict}`,
      table.columns.map((_, i) => batch.map((r) => r[i])),
    );
  }
}

/**
 * Copies a SQLite store (a data directory's server.db) into a PostgreSQL
 * store, all or nothing; returns the rows copied per table.
 */
export async function copySqliteToPg(sqlitePath: string, pg: PgStore): Promise<CopyCounts> {
  const data = readSqlite(sqlitePath);
  const rows = (name: string): unknown[][] => data.get(name) ?? [];
  await pg.db.transaction(async (client) => {
    // No instance writes meanwhile, and a second copy waits, then finds this one.
    await client.query(
      'LOCK TABLE settings, secrets, clients, audit, admin_tokens IN EXCLUSIVE MODE',
    );
    await checkEmpty(client, pg.location, rows('settings'));
    for (const table of TABLES) await insertAll(client, table, rows(table.name));
    // New audit rows continue after the copied ids.
    await client.query(
      "SELECT setval(pg_get_serial_sequence('audit', 'id'), COALESCE((SELECT max(id) FROM audit), 0) + 1, false)",
    );
  });
  return {
    settings: rows('settings').length,
    secrets: rows('secrets').length,
    clients: rows('clients').length,
    audit: rows('audit').length,
    adminTokens: rows('admin_tokens').length,
  };
}
