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

export class ServerRegistry {
  readonly #file: string;
  #mtimeMs = -1;
  #servers = new Map<string, Entry>();

  constructor(dataDir: string) {
    ensurePrivateDir(dataDir);
    this.#file = join(dataDir, 'servers.json');
  }

  #refresh(): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.#file).mtimeMs;
    } catch {
      this.#servers = new Map();
      this.#mtimeMs = -1;
      return;
    }
    if (mtimeMs === this.#mtimeMs) return;
    let parsed: { servers?: Record<string, Entry> };
    try {
      parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as { servers?: Record<string, Entry> };
    } catch (err) {
      throw new UserError('corrupt_registry', `${this.#file} is not valid JSON`, {
        cause: err,
        hint: 'restore it from a backup or add the servers again',
      });
    }
    this.#servers = new Map(Object.entries(parsed.servers ?? {}));
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
