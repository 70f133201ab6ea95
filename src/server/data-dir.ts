/**
 * The server's data directory: created on first use (0700) with the SQLite
 * store (0600), the server identity and the KDF settings (admin tokens are
 * stored as hashes only, see admin-token.ts).
 * Creation is race-safe: every value is inserted once in the store, so the
 * command line and a starting server agree on one identity.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir } from '../common/files.ts';
import {
  DEFAULT_KDF,
  createServerIdentity,
  exportPrivateKeyPem,
  importSigningKey,
  serverIdentity,
  validateKdf,
} from '../protocol/index.ts';
import type { KdfParams, ServerIdentity } from '../protocol/index.ts';
import { migrateClearAdminToken } from './admin-token.ts';
import { AUTH_MODES, Store } from './store.ts';
import type { AuthMode } from './store.ts';

export interface DataDir {
  readonly dir: string;
  readonly store: Store;
  readonly identity: ServerIdentity;
  readonly kdf: KdfParams;
}

export interface OpenOptions {
  /** scrypt N as a power of two, used only when the directory is created. */
  readonly kdfLogN?: number;
}

/** The mode a new server starts in: every client needs a secret. */
export const INITIAL_MODE: AuthMode = 'all';

/** Opens (creating on first use) a server data directory. */
export function openDataDir(dir: string, opts: OpenOptions = {}): DataDir {
  ensurePrivateDir(dir);
  const dbPath = join(dir, 'server.db');
  closeSync(openSync(dbPath, 'a', 0o600)); // so SQLite's files inherit 0600
  const store = new Store(dbPath);
  const fresh = createServerIdentity();
  const kdf: KdfParams = { ...DEFAULT_KDF, N: 2 ** (opts.kdfLogN ?? Math.log2(DEFAULT_KDF.N)) };
  validateKdf(kdf);
  const serverId = store.initSetting('server_id', fresh.serverId);
  const keyPem = store.initSetting('server_key', exportPrivateKeyPem(fresh.key.privateKey));
  migrateClearAdminToken(store, Date.now());
  const storedKdf = JSON.parse(store.initSetting('kdf', JSON.stringify(kdf))) as KdfParams;
  store.initSetting('mode', INITIAL_MODE);
  return {
    dir,
    store,
    identity: serverIdentity(serverId, importSigningKey(keyPem)),
    kdf: storedKdf,
  };
}

/** The Client Authorization mode in force. */
export function readMode(store: Store): AuthMode {
  const mode = store.getSetting('mode');
  return (AUTH_MODES as readonly string[]).includes(mode ?? '') ? (mode as AuthMode) : INITIAL_MODE;
}
