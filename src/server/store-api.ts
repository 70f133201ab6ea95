/**
 * What the server keeps, whichever database holds it. SQLite (one file in
 * the data directory, one server process) is the embedded default;
 * PostgreSQL holds one estate for several server instances. Every method
 * is asynchronous so that both fit; a store that cannot be reached throws
 * StoreUnavailable, which clients see as 503 with Retry-After.
 */
import { UserError } from '../common/errors.ts';
import type { NewSecret, RetiredReason, SecretRow } from './store-secrets.ts';
import type { AuditEntry, AuditRetention, AuditRow, ClientRow } from './store-rows.ts';

/** The secrets (PRS only, never a secret). */
export interface SecretsApi {
  /** The usable secrets and their PRS, oldest first: the shares a start offers. */
  usableWithPrs(now: string): Promise<{ id: string; prs: Buffer }[]>;
  /** Every secret not removed (expired and used-up ones too, with their state), oldest first. */
  list(now: string): Promise<SecretRow[]>;
  isUsable(id: string, now: string): Promise<boolean>;
  /** Adds a secret unless `limit` are already usable; the check and insert are one transaction. */
  add(row: NewSecret, limit: number): Promise<boolean>;
  /** Removes a secret that is not removed yet (usable or not); its PRS is overwritten. */
  remove(id: string, at: string): Promise<boolean>;
  /** Records a registration made with a secret; only a new client counts as a use. */
  markUsed(id: string, at: string, newClient: boolean): Promise<void>;
  /** Secrets that stopped being usable since the last call, each reported once (estate-wide). */
  takeNewlyRetired(now: string): Promise<{ id: string; reason: RetiredReason }[]>;
}

export interface ServerStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for messages: a path, or a URL without its password. */
  readonly location: string;
  readonly secrets: SecretsApi;
  close(): Promise<void>;
  /** Resolves when the store answers a trivial query; throws StoreUnavailable otherwise. */
  ping(): Promise<void>;
  /** An integrity check: empty when sound, else what it found. */
  quickCheck(): Promise<string[]>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /** Sets a setting only when it is not there yet; returns the value in force. */
  initSetting(key: string, value: string): Promise<string>;
  deleteSetting(key: string): Promise<void>;

  clientByFingerprint(fingerprint: string): Promise<ClientRow | undefined>;
  /**
   * Registers a client key once, atomically: an existing key returns its
   * record (whichever instance made it); a new key from a known machine
   * supersedes the older records of that machine. With `row.secretId`,
   * the secret must still be usable at `row.registeredAt` and a new client
   * is counted as one of its uses, in the same transaction: two
   * registrations racing for a secret's last use cannot both have it.
   */
  registerClient(row: ClientRow & { clientKey: string }): Promise<Registered>;
  clientById(clientId: string): Promise<(ClientRow & { clientKey: string }) | undefined>;
  removeClient(clientId: string): Promise<ClientRow | undefined>;
  listClients(limit?: number): Promise<ClientRow[]>;
  listClientsPage(page: {
    limit: number;
    offset: number;
  }): Promise<{ clients: ClientRow[]; total: number }>;
  countClients(): Promise<{ total: number; active: number }>;

  audit(entry: AuditEntry, time: string): Promise<void>;
  /** Audits a refusal, merged into the row of the same refusal from the same source within ten minutes. */
  auditRepeated(entry: AuditEntry, time: string): Promise<void>;
  setAuditRetention(retention: AuditRetention, now: number): Promise<void>;
  pruneAudit(now: number): Promise<number>;
  countAudit(): Promise<{ rows: number; occurrences: number }>;
  listAudit(limit?: number, event?: string): Promise<AuditRow[]>;

  addAdminToken(row: {
    hash: string;
    label: string;
    createdAt: string;
    expiresAt: string | null;
  }): Promise<void>;
  isAdminTokenValid(hash: string, now: string): Promise<boolean>;
  revokeAdminTokens(): Promise<number>;
}

/** What registerClient did: the client's record, or nothing because its secret is no longer usable. */
export type Registered =
  | { readonly client: ClientRow; readonly created: boolean }
  | { readonly client: null; readonly created: false };

/** How long a client is told to wait when the store does not answer. */
export const STORE_RETRY_AFTER_S = 5;

/**
 * The store did not answer (down, restarting, unreachable, pool exhausted):
 * nothing was written; the request may be retried.
 */
export class StoreUnavailable extends UserError {
  constructor(message: string, cause?: unknown) {
    super('store_unavailable', message, {
      cause,
      hint: 'check that the database is running and reachable (--store)',
    });
  }
}
