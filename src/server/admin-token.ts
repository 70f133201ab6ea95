/**
 * Admin tokens: random bearer tokens of which the store keeps only the
 * SHA-256, so a copy of the database (a backup, a support bundle) lets
 * nobody into the admin API. A token is shown once, when it is made.
 */
import { createHash, randomBytes } from 'node:crypto';
import { toB64u } from '../protocol/index.ts';
import type { ServerStore } from './store-api.ts';

function hashOf(token: string): string {
  return toB64u(createHash('sha256').update(token, 'utf8').digest());
}

/** Makes a token, stores its hash, and returns the token (the only time it exists in clear). */
export async function mintAdminToken(
  store: ServerStore,
  opts: { label: string; validMs: number | null; now: number },
): Promise<{ token: string; expiresAt: string | null }> {
  const token = toB64u(randomBytes(32));
  const expiresAt = opts.validMs === null ? null : new Date(opts.now + opts.validMs).toISOString();
  await store.addAdminToken({
    hash: hashOf(token),
    label: opts.label,
    createdAt: new Date(opts.now).toISOString(),
    expiresAt,
  });
  return { token, expiresAt };
}

/** Whether a presented token is valid now. The lookup is by hash, so it leaks no timing about the token. */
export async function isAdminToken(
  store: ServerStore,
  presented: string,
  now: number,
): Promise<boolean> {
  if (presented.length === 0 || presented.length > 200) return false;
  return store.isAdminTokenValid(hashOf(presented), new Date(now).toISOString());
}

/** Moves a token stored in clear by an earlier version to its hash. */
export async function migrateClearAdminToken(store: ServerStore, now: number): Promise<void> {
  const clear = await store.getSetting('admin_token');
  if (clear === undefined) return;
  await store.addAdminToken({
    hash: hashOf(clear),
    label: 'from an earlier version',
    createdAt: new Date(now).toISOString(),
    expiresAt: null,
  });
  await store.deleteSetting('admin_token');
}
