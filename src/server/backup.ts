/**
 * `bootstrap-server backup` and `restore`. A backup is an online,
 * consistent copy of server.db: the identity (server id and signing key),
 * the secrets' PRS, the clients and the audit. It must be kept like a
 * private key. A restore checks the copy first, keeps the database it
 * replaces beside it, and never runs under a live server.
 */
import { chmodSync, copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { ensurePrivateDir, fsyncDir, writeFileAtomic } from '../common/files.ts';
import { importSigningKey, serverIdentity } from '../protocol/index.ts';
import type { DataDir } from './data-dir.ts';
import { runningServerPid } from './pid-file.ts';
import { Store } from './store.ts';
import { SqliteStore } from './store-sqlite.ts';

/** Writes a backup of the open data directory to `to` (0600); refuses to overwrite. */
export async function backupDataDir(dd: DataDir, to: string): Promise<{ bytes: number }> {
  if (!(dd.store instanceof SqliteStore))
    throw new UserError(
      'usage',
      `backup copies a data directory's SQLite database; the estate in ${dd.store.location} is backed up with PostgreSQL's own tools`,
      {
        hint: 'pg_dump --format=custom (and pg_restore) keep the identity, secrets, clients and audit',
      },
    );
  if (existsSync(to))
    throw new UserError('usage', `${to} exists already; name a new file for the backup`);
  const partial = `${to}.partial`;
  rmSync(partial, { force: true });
  try {
    await dd.store.sync.backupTo(partial);
    chmodSync(partial, 0o600);
    const check = describeBackup(partial);
    if (check.serverId !== dd.identity.serverId)
      throw new Error(`the copy names server ${check.serverId}`);
    renameSync(partial, to);
  } catch (err) {
    rmSync(partial, { force: true });
    if (err instanceof UserError) throw err;
    throw new UserError('backup_failed', `the backup to ${to} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { bytes: statSync(to).size };
}

/** Opens a backup read-only and says whose it is; refuses one that is damaged or has no identity. */
export function describeBackup(file: string): { serverId: string; pin: string } {
  let store: Store | undefined;
  try {
    store = new Store(file, { readonly: true });
    const problems = store.quickCheck();
    if (problems.length > 0) throw new Error(`it is damaged: ${problems.join('; ')}`);
    const id = store.getSetting('server_id');
    const key = store.getSetting('server_key');
    if (!id || !key) throw new Error('it holds no server identity');
    const identity = serverIdentity(id, importSigningKey(key));
    return { serverId: identity.serverId, pin: identity.pin };
  } catch (err) {
    throw new UserError(
      'bad_backup',
      `${file} is not a usable backup of a server: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    store?.close();
  }
}

/**
 * Puts a backup in place of the data directory's database. The server must
 * be stopped; the database replaced (if any) is kept as server.db.replaced-TIME.
 */
export function restoreDataDir(
  dir: string,
  from: string,
  opts: { force: boolean; now: Date },
): { serverId: string; pin: string; keptAside: string | null } {
  const pid = runningServerPid(dir);
  if (pid !== null)
    throw new UserError('server_running', `a server (pid ${pid}) is running on ${dir}`, {
      hint: 'stop it first, then restore',
    });
  const backup = describeBackup(from);
  ensurePrivateDir(dir);
  const marker = join(dir, 'identity.json');
  const db = join(dir, 'server.db');
  let previous: { serverId?: string } | null = null;
  try {
    const s = new Store(db, { readonly: true });
    previous = { ...(s.getSetting('server_id') ? { serverId: s.getSetting('server_id') } : {}) };
    s.close();
  } catch {
    previous = null; // missing or damaged: that is why we restore
  }
  if (previous?.serverId && previous.serverId !== backup.serverId && !opts.force) {
    throw new UserError(
      'identity_mismatch',
      `${dir} holds server ${previous.serverId}, the backup is of server ${backup.serverId}`,
      { hint: 'add --force to replace one server by another' },
    );
  }
  const incoming = join(dir, 'server.db.restoring');
  copyFileSync(from, incoming);
  chmodSync(incoming, 0o600);
  let keptAside: string | null = null;
  if (existsSync(db)) {
    keptAside = `${db}.replaced-${opts.now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(db, keptAside);
  }
  for (const f of ['server.db-wal', 'server.db-shm']) rmSync(join(dir, f), { force: true });
  renameSync(incoming, db);
  writeFileAtomic(
    marker,
    `${JSON.stringify({ serverId: backup.serverId, pin: backup.pin, createdAt: opts.now.toISOString() }, null, 2)}\n`,
  );
  fsyncDir(dir);
  return { ...backup, keptAside };
}
