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

interface Entry {
  readonly tokenHash: string;
  readonly addedAt: string;
}

const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Parses servers.json strictly: every entry a server id with a SHA-256 token hash. */
function parseRegistry(text: string): Map<string, Entry> {
  const parsed = JSON.parse(text) as { servers?: unknown };
  const servers = parsed?.servers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers))
    throw new Error('it has no "servers" object');
  const out = new Map<string, Entry>();
  for (const [id, e] of Object.entries(servers as Record<string, unknown>)) {
    const entry = e as Partial<Entry> | null;
    if (
      !/^[A-Za-z0-9_-]{22}$/.test(id) ||
      typeof entry?.tokenHash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(entry.tokenHash) ||
      typeof entry.addedAt !== 'string'
    )
      throw new Error(`the entry for ${JSON.stringify(id.slice(0, 40))} is not valid`);
    out.set(id, { tokenHash: entry.tokenHash, addedAt: entry.addedAt });
  }
  return out;
}

export class ServerRegistry {
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
    try {
      fromB64u(serverId, 'server id', 16);
    } catch {
      throw new UserError('bad_server_id', `${JSON.stringify(serverId)} is not a server id`, {
        hint: 'use the serverId that `bootstrap-server auth show` prints',
      });
    }
    this.#refresh();
    const replaced = this.#servers.has(serverId);
    const token = randomBytes(32).toString('base64url');
    const servers = Object.fromEntries(this.#servers);
    servers[serverId] = { tokenHash: hashToken(token).toString('hex'), addedAt: now.toISOString() };
    writeFileAtomic(this.#file, `${JSON.stringify({ servers }, null, 2)}\n`);
    this.#mtimeMs = -1;
    return { token, replaced };
  }
}
