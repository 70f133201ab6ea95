/**
 * The connection pool under the PostgreSQL store and registration state,
 * and the one place where pg's errors are sorted: a database that cannot
 * be reached (down, restarting, refusing connections, pool exhausted)
 * becomes StoreUnavailable naming the store without its password; any
 * other error is a bug or a constraint and propagates as it is. Every
 * transaction rolls back on error and gives its connection back.
 */
import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { UserError } from '../common/errors.ts';
import { StoreUnavailable } from './store-api.ts';

export interface PgOptions {
  /** Connections this instance may hold (default 10). */
  readonly maxConnections?: number;
  /** How long to wait for a connection, new or from the pool (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** How long one statement may run (default 10 s). */
  readonly statementTimeoutMs?: number;
  /**
   * How long this side waits for any answer (default: the statement
   * timeout and 5 s more). The statement timeout is PostgreSQL's own and
   * does not help when PostgreSQL itself is frozen or the network holds
   * the packets; this one ends the wait here, and the connection with it.
   */
  readonly queryTimeoutMs?: number;
  readonly applicationName?: string;
  /** Told when an idle connection dies (PostgreSQL restarted); the pool replaces it. */
  readonly onIdleError?: (err: Error) => void;
}

/** Node's socket errors that mean the server is not reachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * SQLSTATEs of a server that is going away or cannot take us: admin
 * shutdown, crash shutdown, starting up, too many connections.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg's own messages for a connection that failed or ended under a query. */
const CONNECTION_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'connection timeout',
  // Our own query_timeout: the answer never came, the connection is not trusted again.
  'Query read timeout',
];

/** Whether an error from pg means "the database is not reachable now" rather than a bug. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code)) return true;
    // Class 08: connection exception.
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (CONNECTION_MESSAGES.some((m) => err.message.includes(m))) return true;
  // Node reports a refused connection to every address of a name as one AggregateError.
  return err instanceof AggregateError && err.errors.some(isConnectionError);
}

/** A store URL's parts for messages: the URL without its password, and the password to hide. */
export function describeUrl(url: string): { location: string; password: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the text: it may hold the password.
    throw new UserError('store_url_invalid', 'the store is not a postgres:// URL', {
      hint: 'give --store as postgres://user:password@host:5432/database',
    });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new UserError('store_url_invalid', `the store URL has scheme ${parsed.protocol}`, {
      hint: 'give --store as postgres://user:password@host:5432/database',
    });
  // libpq also takes the password as a parameter of the URL.
  const password =
    decodeURIComponent(parsed.password) || (parsed.searchParams.get('password') ?? '');
  parsed.password = '';
  parsed.searchParams.delete('password');
  return { location: parsed.toString(), password };
}

/** The pool of one instance, with the error translation every query goes through. */
export class PgDb {
  readonly pool: pg.Pool;
  /** The URL without its password. */
  readonly location: string;
  readonly #password: string;

  constructor(url: string, opts: PgOptions = {}) {
    const { location, password } = describeUrl(url);
    this.location = location;
    this.#password = password;
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.maxConnections ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: opts.statementTimeoutMs ?? 10_000,
      query_timeout: opts.queryTimeoutMs ?? (opts.statementTimeoutMs ?? 10_000) + 5_000,
      // A connection stuck inside a transaction (its instance hung) must not hold row locks for ever.
      idle_in_transaction_session_timeout: 60_000,
      application_name: opts.applicationName ?? 'bootstrap-server',
    });
    // An idle connection that dies (PostgreSQL restarted) is dropped by the
    // pool; without a listener its error would end the process.
    this.pool.on('error', (err) => opts.onIdleError?.(err));
    // And every connection has a listener of its own for its whole life:
    // pg-pool takes its listener off a connection it hands out, and a
    // PostgreSQL that is shutting down can end a connection in the very
    // packet that completes its log-in, before whoever asked for it could
    // listen. Nobody listening to an 'error' event ends the process (both
    // instances died so in a CI run, on a restart). The query that was to
    // run on the connection still fails, and reports it.
    this.pool.on('connect', (client) => {
      client.on('error', (err) => opts.onIdleError?.(err));
    });
  }

  /** The error to throw for what pg threw: StoreUnavailable for an unreachable database. */
  translate(err: unknown): unknown {
    const code = (err as { code?: unknown }).code;
    if (code === '28P01' || code === '28000' || code === '3D000') {
      // Not transient, but the server still cannot serve: told apart by the message.
      return new StoreUnavailable(
        `the store ${this.location} refused this server: ${this.#hide((err as Error).message)}`,
        new Error(this.#hide((err as Error).message)),
      );
    }
    if (!isConnectionError(err)) return err;
    const message = this.#hide((err as Error).message);
    const cause = message === (err as Error).message ? err : new Error(message);
    return new StoreUnavailable(
      `the store ${this.location} cannot be reached: ${message || 'connection failed'}`,
      cause,
    );
  }

  #hide(text: string): string {
    return this.#password === '' ? text : text.replaceAll(this.#password, '***');
  }

  /** One statement (its own transaction). */
  async query<R extends QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw this.translate(err);
    }
  }

  /**
   * A connection for several statements; `fn` runs its own BEGIN and
   * COMMIT (so that it may send them with its first and last statements).
   * On any error the transaction is rolled back and, when the connection
   * itself failed, the connection is destroyed instead of reused.
   */
  async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.translate(err);
    }
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (err) {
      let broken = isConnectionError(err);
      if (!broken) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      client.release(broken ? (err as Error) : undefined);
      throw this.translate(err);
    }
  }

  /** BEGIN, `fn`, COMMIT on one connection; ROLLBACK on error. */
  transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    });
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

/** A value written into SQL text: strings quoted by pg, numbers checked finite. */
export function sqlLiteral(v: string | number | boolean | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  return pg.escapeLiteral(v);
}

/**
 * Sends several statements as one text (one round trip) and returns each
 * one's result. Only for text without parameters: values go in through
 * sqlLiteral.
 */
export async function runScript(client: PoolClient, sql: string): Promise<QueryResult<Row>[]> {
  const r = (await client.query<Row>(sql)) as QueryResult<Row> | QueryResult<Row>[];
  return Array.isArray(r) ? r : [r];
}

type Row = Record<string, unknown>;
