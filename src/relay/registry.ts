/**
 * The servers a relay knows: id and SHA-256 of the tunnel token, in
 * `servers.json` of the data directory (0600, written atomically). A
 * running relay re-reads the file when it changes, so `add-server` works
 * while it runs.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { ensurePrivateDir, writeFileAtomic } from '../common/files.ts';
import { fromB64u } from '../protocol/index.ts';

export interface Entry {
  readonly tokenHash: string;
  readonly addedAt: string;
}

/** What the relay's HTTP surface asks of a registry, file or fleet. */
export interface RelayRegistry {
  /** False until the entries have been read (fleet mode, while NATS is not yet reached). */
  readonly ready: boolean;
  has(serverId: string): boolean;
  /**
   * Fleet mode: asks the shared registry for a server the local copy does
   * not have yet. Throws RegistryUnavailable when it cannot be asked.
   */
  lookup?(serverId: string): Promise<boolean>;
  /** Constant-time check of a presented tunnel token. */
  verify(serverId: string, token: string): boolean;
}

/** The shared registry could not be asked (not: the server is unknown). */
export class RegistryUnavailable extends Error {
  constructor(reason: string) {
    super(`the registry cannot be read: ${reason}`);
    this.name = 'RegistryUnavailable';
  }
}

export const hashToken = (token: string): Buffer =>
  createHash('sha256').update(token, 'utf8').digest();

/** One entry, checked strictly: a server id with a SHA-256 token hash. */
export function parseEntry(id: string, e: unknown): Entry {
  const entry = e as Partial<Entry> | null;
  if (
    !/^[A-Za-z0-9_-]{22}$/.test(id) ||
    typeof entry?.tokenHash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(entry.tokenHash) ||
    typeof entry.addedAt !== 'string'
  )
    throw new Error(`the entry for ${JSON.stringify(id.slice(0, 40))} is not valid`);
  return { tokenHash: entry.tokenHash, addedAt: entry.addedAt };
}

/** Parses servers.json strictly. */
function parseRegistry(text: string): Map<string, Entry> {
  const parsed = JSON.parse(text) as { servers?: unknown };
  const servers = parsed?.servers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers))
    throw new Error('it has no "servers" object');
  const out = new Map<string, Entry>();
  for (const [id, e] of Object.entries(servers as Record<string, unknown>))
    out.set(id, parseEntry(id, e));
  return out;
}

/** Refuses anything that is not a server id, naming where to find one. */
export function checkServerId(serverId: string): void {
  try {
    fromB64u(serverId, 'server id', 16);
  } catch {
    throw new UserError('bad_server_id', `${JSON.stringify(serverId)} is not a server id`, {
      hint: 'use the serverId that `bootstrap-server auth show` prints',
    });
  }
}

export class ServerRegistry implements RelayRegistry {
  readonly ready = true;
  readonly #file: string;
  #mtimeMs = -1;
  #servers = new Map<string, Entry>();

  constructor(dataDir: string) {
    ensurePrivateDir(dataDir);
    this.#file = join(dataDir, 'servers.json');
  }

  /**
   * Reads the registry at start: a damaged file stops the relay with a
   * message naming it, rather than answering every request with 500.
   */
  load(): number {
    this.#mtimeMs = -1;
    this.#refresh(true);
    return this.#servers.size;
  }

  #refresh(strict = false): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.#file).mtimeMs;
    } catch {
      this.#servers = new Map();
      this.#mtimeMs = -1;
      return;
    }
    if (mtimeMs === this.#mtimeMs) return;
    try {
      this.#servers = parseRegistry(readFileSync(this.#file, 'utf8'));
    } catch (err) {
      const problem = new UserError(
        'corrupt_registry',
        `${this.#file} is damaged: ${(err as Error).message}`,
        { cause: err, hint: 'restore it from a backup, or add the servers again with add-server' },
      );
      // Damaged while running: keep serving the servers last read; a fixed file is read again.
      if (strict || this.#mtimeMs === -1) throw problem;
    }
    this.#mtimeMs = mtimeMs;
  }

  has(serverId: string): boolean {
    this.#refresh();
    return this.#servers.has(serverId);
  }

  /** Constant-time check of a presented tunnel token. */
  verify(serverId: string, token: string): boolean {
    this.#refresh();
    const entry = this.#servers.get(serverId);
    if (!entry) return false;
    return timingSafeEqual(Buffer.from(entry.tokenHash, 'hex'), hashToken(token));
  }

  /** Adds (or re-keys) a server and returns its new token, which is not stored. */
  add(serverId: string, now: Date): { token: string; replaced: boolean } {
    checkServerId(serverId);
    this.#refresh();
    const replaced = this.#servers.has(serverId);
    const token = randomBytes(32).toString('base64url');
    const servers = Object.fromEntries(this.#servers);
    servers[serverId] = { tokenHash: hashToken(token).toString('hex'), addedAt: now.toISOString() };
    writeFileAtomic(this.#file, `${JSON.stringify({ servers }, null, 2)}\n`);
    this.#mtimeMs = -1;
    return { token, replaced };
  }

  /** Removes a server: its tunnel and its clients are refused from now on. False if unknown. */
  remove(serverId: string): boolean {
    checkServerId(serverId);
    this.#refresh(true);
    if (!this.#servers.has(serverId)) return false;
    const servers = Object.fromEntries(this.#servers);
    delete servers[serverId];
    writeFileAtomic(this.#file, `${JSON.stringify({ servers }, null, 2)}\n`);
    this.#mtimeMs = -1;
    return true;
  }
}
