/**
 * The embedded store behind the asynchronous interface: the SQLite file in
 * the data directory, used by one server process. Its methods are
 * synchronous underneath (better-sqlite3); the promises only let the
 * server treat SQLite and PostgreSQL alike.
 */
/* eslint-disable @typescript-eslint/require-await -- the interface is asynchronous so that PostgreSQL fits; this implementation answers at once. */
import type { SecretsApi, ServerStore } from './store-api.ts';
import type { Store } from './store.ts';

export class SqliteStore implements ServerStore {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly secrets: SecretsApi;
  /** The synchronous store underneath (backups, read-only checks). */
  readonly sync: Store;

  constructor(store: Store, location: string) {
    this.sync = store;
    this.location = location;
    const s = store.secrets;
    this.secrets = {
      usableWithPrs: async (now) => s.usableWithPrs(now),
      list: async (now) => s.list(now),
      isUsable: async (id, now) => s.isUsable(id, now),
      add: async (row, limit) => s.add(row, limit),
      remove: async (id, at) => s.remove(id, at),
      markUsed: async (id, at, newClient) => s.markUsed(id, at, newClient),
      takeNewlyRetired: async (now) => s.takeNewlyRetired(now),
    };
  }

  async close(): Promise<void> {
    this.sync.close();
  }
  async ping(): Promise<void> {
    this.sync.version();
  }
  async quickCheck(): Promise<string[]> {
    return this.sync.quickCheck();
  }
  async getSetting(key: string): Promise<string | undefined> {
    return this.sync.getSetting(key);
  }
  async setSetting(key: string, value: string): Promise<void> {
    this.sync.setSetting(key, value);
  }
  async initSetting(key: string, value: string): Promise<string> {
    return this.sync.initSetting(key, value);
  }
  async deleteSetting(key: string): Promise<void> {
    this.sync.deleteSetting(key);
  }
  async clientByFingerprint(fingerprint: string): ReturnType<ServerStore['clientByFingerprint']> {
    return this.sync.clientByFingerprint(fingerprint);
  }
  async registerClient(
    row: Parameters<ServerStore['registerClient']>[0],
  ): ReturnType<ServerStore['registerClient']> {
    return this.sync.registerClient(row);
  }
  async clientById(clientId: string): ReturnType<ServerStore['clientById']> {
    return this.sync.clientById(clientId);
  }
  async removeClient(clientId: string): ReturnType<ServerStore['removeClient']> {
    return this.sync.removeClient(clientId);
  }
  async listClients(limit?: number): ReturnType<ServerStore['listClients']> {
    return this.sync.listClients(limit);
  }
  async listClientsPage(page: {
    limit: number;
    offset: number;
  }): ReturnType<ServerStore['listClientsPage']> {
    return this.sync.listClientsPage(page);
  }
  async countClients(): ReturnType<ServerStore['countClients']> {
    return this.sync.countClients();
  }
  async audit(...a: Parameters<ServerStore['audit']>): Promise<void> {
    this.sync.audit(...a);
  }
  async auditRepeated(...a: Parameters<ServerStore['auditRepeated']>): Promise<void> {
    this.sync.auditRepeated(...a);
  }
  async setAuditRetention(...a: Parameters<ServerStore['setAuditRetention']>): Promise<void> {
    this.sync.setAuditRetention(...a);
  }
  async pruneAudit(now: number): Promise<number> {
    return this.sync.pruneAudit(now);
  }
  async countAudit(): ReturnType<ServerStore['countAudit']> {
    return this.sync.countAudit();
  }
  async listAudit(limit?: number, event?: string): ReturnType<ServerStore['listAudit']> {
    return this.sync.listAudit(limit, event);
  }
  async addAdminToken(row: Parameters<ServerStore['addAdminToken']>[0]): Promise<void> {
    this.sync.addAdminToken(row);
  }
  async isAdminTokenValid(hash: string, now: string): Promise<boolean> {
    return this.sync.isAdminTokenValid(hash, now);
  }
  async revokeAdminTokens(): Promise<number> {
    return this.sync.revokeAdminTokens();
  }
}
