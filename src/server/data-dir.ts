/**
 * The server's data directory: created on first use (0700) with the SQLite
 * store (0600), the server identity and the KDF settings (admin tokens are
 * stored as hashes only, see admin-token.ts).
 * Creation is race-safe: every value is inserted once in the store, so the
 * command line and a starting server agree on one identity.
 */
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { ensurePrivateDir, writeFileAtomic } from '../common/files.ts';
import {
  DEFAULT_KDF,
  createServerIdentity,
  exportPrivateKeyPem,
  fromB64u,
  importSigningKey,
  serverIdentity,
  validateKdf,
} from '../protocol/index.ts';
import type { KdfParams, ServerIdentity } from '../protocol/index.ts';
import { migrateClearAdminToken } from './admin-token.ts';
import { Store } from './store.ts';
import { AUTH_MODES } from './store-rows.ts';
import type { AuthMode } from './store-rows.ts';
import type { ServerStore } from './store-api.ts';
import { SqliteStore } from './store-sqlite.ts';

export interface DataDir {
  readonly dir: string;
  readonly store: ServerStore;
  readonly identity: ServerIdentity;
  readonly kdf: KdfParams;
}

export interface OpenOptions {
  /** scrypt N as a power of two, used only when the directory is created. */
  readonly kdfLogN?: number;
  /** For commands that only read or use a server: a directory that is not there is an error, never created. */
  readonly mustExist?: boolean;
  /**
   * A PostgreSQL URL: the estate lives there instead of in the directory's
   * SQLite file. The directory then holds only this instance's log, pid
   * file and identity record, and only `start` makes it (`instance`).
   */
  readonly storeUrl?: string;
  /** With storeUrl: this is a running instance, which keeps its own identity record in `dir`. */
  readonly instance?: boolean;
}

/** The mode a new server starts in: every client needs a secret. */
export const INITIAL_MODE: AuthMode = 'all';

/** Codes of a damaged or lost data directory: `bootstrap-server` exits 3 for them. */
export const DATA_DIR_CODES = new Set(['data_damaged', 'identity_lost', 'identity_mismatch']);

/** The public record of the identity a data directory holds (never the key). */
interface IdentityMarker {
  readonly serverId: string;
  readonly pin: string;
  readonly createdAt: string;
}

const NO_IDENTITY = 'its database has no identity: it was emptied or replaced';

const RESTORE_HINT =
  'restore the database from a backup: bootstrap-server restore --data-dir DIR --from FILE';

function damaged(message: string, cause?: unknown): UserError {
  return new UserError('data_damaged', message, { cause, hint: RESTORE_HINT });
}

function readMarker(path: string): IdentityMarker | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw damaged(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  try {
    const m = JSON.parse(text) as IdentityMarker;
    if (typeof m.serverId === 'string' && typeof m.pin === 'string') return m;
  } catch {
    // reported below
  }
  throw damaged(`${path} is damaged; it should name the server id and pin this directory holds`);
}

/** Rethrows a SQLite error as damage of the database (exit 3); anything else as it is. */
function asDamage(err: unknown, dbPath: string): never {
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_'))
    throw damaged(`the database ${dbPath} is damaged (${code}: ${(err as Error).message})`, err);
  throw err;
}

/** A directory that held an identity its database no longer has. */
function identityLost(dir: string, marker: IdentityMarker, what: string): UserError {
  return new UserError(
    'identity_lost',
    `${dir} held server ${marker.serverId} (pin ${marker.pin}) but ${what}`,
    { hint: RESTORE_HINT },
  );
}

/** Whether the database names a server id, looked at read-only; damage is reported as such. */
function holdsIdentity(dbPath: string): boolean {
  if (statSync(dbPath).size === 0) return false;
  let peek: Store | undefined;
  try {
    peek = new Store(dbPath, { readonly: true });
    return peek.getSetting('server_id') !== undefined;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'SQLITE_ERROR' && /no such table/.test((err as Error).message)) return false;
    return asDamage(err, dbPath);
  } finally {
    peek?.close();
  }
}

/** Reads one stored setting and checks it, naming the setting when it is damaged. */
async function checked<T>(
  store: ServerStore,
  key: string,
  parse: (value: string) => T,
): Promise<T | undefined> {
  const value = await store.getSetting(key);
  if (value === undefined) return undefined;
  try {
    return parse(value);
  } catch (err) {
    throw damaged(`the stored setting ${key} is damaged: ${(err as Error).message}`, err);
  }
}

/**
 * Opens (creating on first use) a server data directory. The identity is
 * created only in a directory that never held one: `identity.json` (the
 * server id and pin, public) records that it did, so a database that was
 * emptied, replaced or lost stops here instead of starting as a new
 * server that every pinned agent would refuse. Every stored setting is
 * checked before anything uses it.
 */
export async function openDataDir(dir: string, opts: OpenOptions = {}): Promise<DataDir> {
  if (opts.storeUrl !== undefined) return openShared(dir, opts.storeUrl, opts);
  const dbPath = join(dir, 'server.db');
  const markerPath = join(dir, 'identity.json');
  const marker = readMarker(markerPath);
  if (opts.mustExist && !marker && !existsSync(dbPath)) {
    throw new UserError(
      'no_data_dir',
      `${dir} is not a server data directory (${existsSync(dir) ? 'it holds no server.db' : 'it does not exist'})`,
      {
        hint: 'check --data-dir (a typo?); bootstrap-server start, auth mode or auth secret add creates one',
      },
    );
  }
  ensurePrivateDir(dir);
  if (marker && !existsSync(dbPath))
    throw identityLost(dir, marker, 'its database server.db is gone');
  // Checked before the store is opened for writing, so nothing is created in its place.
  if (marker && !holdsIdentity(dbPath)) throw identityLost(dir, marker, NO_IDENTITY);
  closeSync(openSync(dbPath, 'a', 0o600)); // so SQLite's files inherit 0600
  let store: SqliteStore;
  try {
    store = new SqliteStore(new Store(dbPath), dbPath);
  } catch (err) {
    return asDamage(err, dbPath);
  }
  try {
    return await initialise(dir, store, marker, markerPath, opts);
  } catch (err) {
    await store.close();
    if (err instanceof UserError) throw err;
    return asDamage(err, dbPath);
  }
}

/**
 * Opens the estate in PostgreSQL. Only a running instance (`start`) may
 * create its identity in an empty database; the instance's directory
 * records which server it served, so an instance pointed at another or an
 * emptied database stops instead of answering as a new server.
 */
async function openShared(dir: string, url: string, opts: OpenOptions): Promise<DataDir> {
  const { PgStore } = await import('./store-pg.ts');
  const store = await PgStore.open(url);
  try {
    const markerPath = join(dir, 'identity.json');
    const marker = opts.instance ? readMarker(markerPath) : null;
    if (opts.mustExist && (await store.getSetting('server_id')) === undefined) {
      throw new UserError('no_data_dir', `the store ${store.location} holds no server yet`, {
        hint: 'start a server on it first (bootstrap-server start --store URL), or copy a data directory into it with bootstrap-server store migrate',
      });
    }
    if (opts.instance) ensurePrivateDir(dir);
    return await initialise(dir, store, marker, opts.instance ? markerPath : null, opts);
  } catch (err) {
    await store.close();
    throw err;
  }
}

async function initialise(
  dir: string,
  store: ServerStore,
  marker: IdentityMarker | null,
  markerPath: string | null,
  opts: OpenOptions,
): Promise<DataDir> {
  const storedId = await checked(store, 'server_id', (v) => (fromB64u(v, 'server_id', 16), v));
  if (storedId === undefined && marker) throw identityLost(dir, marker, NO_IDENTITY);
  const fresh = createServerIdentity();
  const kdf: KdfParams = { ...DEFAULT_KDF, N: 2 ** (opts.kdfLogN ?? Math.log2(DEFAULT_KDF.N)) };
  validateKdf(kdf);
  // Inserted once: instances starting together on an empty store agree on one identity.
  const serverId = await store.initSetting('server_id', fresh.serverId);
  await store.initSetting('server_key', exportPrivateKeyPem(fresh.key.privateKey));
  const key = (await checked(store, 'server_key', importSigningKey)) as ReturnType<
    typeof importSigningKey
  >;
  const identity = serverIdentity(serverId, key);
  if (marker && (marker.serverId !== identity.serverId || marker.pin !== identity.pin)) {
    throw new UserError(
      'identity_mismatch',
      `${dir} held server ${marker.serverId} (pin ${marker.pin}) but its database holds server ${identity.serverId} (pin ${identity.pin})`,
      { hint: RESTORE_HINT },
    );
  }
  if (!marker && markerPath !== null) {
    const record: IdentityMarker = {
      serverId: identity.serverId,
      pin: identity.pin,
      createdAt: new Date().toISOString(),
    };
    writeFileAtomic(markerPath, `${JSON.stringify(record, null, 2)}\n`);
  }
  await migrateClearAdminToken(store, Date.now());
  await store.initSetting('kdf', JSON.stringify(kdf));
  const storedKdf = (await checked(store, 'kdf', (v) => {
    const k = JSON.parse(v) as KdfParams;
    validateKdf(k);
    return k;
  })) as KdfParams;
  await store.initSetting('mode', INITIAL_MODE);
  await checked(store, 'mode', (v) => {
    if (!(AUTH_MODES as readonly string[]).includes(v)) throw new Error(`unknown mode ${v}`);
  });
  return { dir, store, identity, kdf: storedKdf };
}

/** The Client Authorization mode in force. */
export async function readMode(store: ServerStore): Promise<AuthMode> {
  const mode = await store.getSetting('mode');
  return (AUTH_MODES as readonly string[]).includes(mode ?? '') ? (mode as AuthMode) : INITIAL_MODE;
}
