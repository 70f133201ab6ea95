/**
 * The agent's state directory (0700; files 0600, written atomically): the
 * client key, created before the first M1 and reused by retries, and
 * state.json with the registration. A lock file serialises concurrent runs.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { ensurePrivateDir, writeFileAtomic } from '../common/files.ts';
import { exportPrivateKeyPem, generateSigningKey, importSigningKey } from '../protocol/index.ts';
import { ioError } from './io-errors.ts';
import { takeLock } from './state-lock.ts';
import type { LockOptions } from './state-lock.ts';
import { STATE_FILE_NAME } from './state-paths.ts';
import { checkStateDir, checkStateFile, currentOwnership } from './state-trust.ts';
import type { Ownership } from './state-trust.ts';
import type { SigningKey } from '../protocol/index.ts';

export interface Registration {
  readonly clientId: string;
  readonly serverId: string;
  readonly serverPin: string;
  readonly route: 'direct' | 'relay';
  readonly serverUrl: string | null;
  readonly relayUrl: string | null;
  readonly registeredAt: string;
  readonly credential: string;
  readonly keyFingerprint: string;
  readonly savedAt: string;
}

export interface AgentState {
  readonly version: 1;
  readonly installId: string;
  readonly registration: Registration | null;
}

const REG_FIELDS: Record<keyof Registration, 'string' | 'string|null'> = {
  clientId: 'string',
  serverId: 'string',
  serverPin: 'string',
  route: 'string',
  serverUrl: 'string|null',
  relayUrl: 'string|null',
  registeredAt: 'string',
  credential: 'string',
  keyFingerprint: 'string',
  savedAt: 'string',
};

function isState(v: unknown): v is AgentState {
  const o = v as Partial<AgentState> | null;
  if (typeof o !== 'object' || o === null || o.version !== 1 || typeof o.installId !== 'string')
    return false;
  if (o.registration === null) return true;
  const r = o.registration as unknown as Record<string, unknown> | undefined;
  if (typeof r !== 'object' || r === null) return false;
  return Object.entries(REG_FIELDS).every(
    ([k, t]) => typeof r[k] === 'string' || (t === 'string|null' && r[k] === null),
  );
}

export class StateDir {
  readonly dir: string;
  readonly #stateFile: string;
  readonly #keyFile: string;
  readonly #lockFile: string;

  constructor(dir: string) {
    this.dir = dir;
    this.#stateFile = join(dir, STATE_FILE_NAME);
    this.#keyFile = join(dir, 'client-key.pem');
    this.#lockFile = join(dir, 'lock');
  }

  get stateFile(): string {
    return this.#stateFile;
  }

  /** Creates the directory (0700) if needed; refuses one that is not this user's own. */
  ensure(who: Ownership = currentOwnership()): void {
    checkStateDir(this.dir, who);
    try {
      ensurePrivateDir(this.dir);
      checkStateFile(this.#keyFile, who, true);
      checkStateFile(this.#stateFile, who, false);
      checkStateFile(this.#lockFile, who, false);
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw ioError(err, `the state directory ${this.dir} cannot be created or secured`);
    }
  }

  /** The saved state; null when there is none. A damaged file is an error, never silently replaced. */
  read(): AgentState | null {
    let text: string;
    try {
      text = readFileSync(this.#stateFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ioError(err, `cannot read ${this.#stateFile}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new UserError(
        'corrupt_state',
        `the state file ${this.#stateFile} is damaged (not valid JSON)`,
        { cause: err, hint: 'run again with --force to move it aside and register anew' },
      );
    }
    if (!isState(parsed)) {
      throw new UserError(
        'corrupt_state',
        `the state file ${this.#stateFile} is damaged (unexpected content)`,
        { hint: 'run again with --force to move it aside and register anew' },
      );
    }
    return parsed;
  }

  /** Moves a damaged state file aside (with --force) and says where. */
  quarantine(now: Date): string {
    const aside = `${this.#stateFile}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(this.#stateFile, aside);
    return aside;
  }

  write(state: AgentState): void {
    try {
      writeFileAtomic(this.#stateFile, `${JSON.stringify(state, null, 2)}\n`);
    } catch (err) {
      throw ioError(err, `cannot write ${this.#stateFile}`);
    }
  }

  /** The state, created with a fresh install id if there is none. */
  readOrInit(): AgentState {
    const existing = this.read();
    if (existing) return existing;
    const fresh: AgentState = { version: 1, installId: randomUUID(), registration: null };
    this.write(fresh);
    return fresh;
  }

  /** The saved client key, or null when there is none; a damaged key is an error. */
  savedClientKey(): SigningKey | null {
    try {
      return importSigningKey(readFileSync(this.#keyFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new UserError(
        'corrupt_state',
        `the client key ${this.#keyFile} is unreadable or damaged`,
        {
          cause: err,
          hint: 'run unregister, then register again',
        },
      );
    }
  }

  /** The client key, created and saved on first use so retries reuse it. */
  clientKey(): SigningKey {
    try {
      return importSigningKey(readFileSync(this.#keyFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new UserError(
          'corrupt_state',
          `the client key ${this.#keyFile} is unreadable or damaged`,
          { cause: err, hint: 'run unregister, then register again' },
        );
      }
    }
    const key = generateSigningKey();
    try {
      writeFileAtomic(this.#keyFile, exportPrivateKeyPem(key.privateKey));
    } catch (err) {
      throw ioError(err, `cannot save the client key in ${this.dir}`);
    }
    return key;
  }

  /** Removes the identity (key and registration); keeps nothing that names the server. */
  removeIdentity(): boolean {
    let removed = false;
    for (const f of [this.#keyFile, this.#stateFile]) {
      try {
        statSync(f);
        rmSync(f);
        removed = true;
      } catch {
        // not there
      }
    }
    return removed;
  }

  /** Takes the lock (see state-lock.ts); returns the release function. */
  lock(opts: LockOptions): Promise<() => void> {
    return takeLock(this.#lockFile, opts);
  }
}
