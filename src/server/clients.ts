/**
 * Registered clients: a page of them, the agent configuration that makes
 * one, and removing one. Removal is one implementation behind the command
 * line, the admin API and the client's own signed unregister: the row goes
 * (its key is no longer known) and the audit says who removed it.
 */
import { UserError } from '../common/errors.ts';
import type { DataDir } from './data-dir.ts';
import type { ClientRow } from './store-rows.ts';

/** Who removed a client: an administrator (command line or API) or the client itself. */
export interface RemovalActor {
  readonly via: 'cli' | 'api' | 'client';
  /** The address it came from (API and client). */
  readonly source?: string;
  /** For a client: the route its request came by. */
  readonly route?: 'direct' | 'relay';
}

/** Removes a client by its id; an unknown id is a UserError `unknown_client`. */
export async function removeClient(
  dd: DataDir,
  clientId: string,
  actor: RemovalActor,
  now: Date,
): Promise<ClientRow> {
  const removed = await dd.store.removeClient(clientId);
  if (!removed) {
    throw new UserError(
      'unknown_client',
      `no registered client has the id ${JSON.stringify(clientId)}`,
      {
        hint: 'list them with: bootstrap-server clients list',
      },
    );
  }
  await dd.store.audit(
    {
      event: 'client.removed',
      route: actor.route ?? actor.via,
      source: actor.source,
      outcome: 'removed',
      reason: `by ${actor.via}`,
      clientId: removed.clientId,
      keyFingerprint: removed.keyFingerprint,
      secretId: removed.secretId,
    },
    now.toISOString(),
  );
  return removed;
}

/** One page of clients (newest first) and how many there are in all. */
export function listClientsPage(
  dd: DataDir,
  page: { limit: number; offset: number },
): Promise<{ clients: ClientRow[]; total: number }> {
  return dd.store.listClientsPage(page);
}

/** The agent's `client-bootstrap.json` for this server. */
export function clientConfig(
  dd: DataDir,
  urls: { serverUrl?: string; relayUrl?: string },
): Record<string, string> {
  const config: Record<string, string> = {};
  if (urls.serverUrl) config.server = urls.serverUrl;
  if (urls.relayUrl) config.relay = urls.relayUrl;
  config.serverId = dd.identity.serverId;
  config.serverPin = dd.identity.pin;
  return config;
}
