/**
 * The fleet's shared registry of servers: server id → SHA-256 of its tunnel
 * token, in the NATS key-value bucket `cb-relay-servers` (JetStream). Every
 * instance keeps a copy in memory, filled and kept current by a watch, so a
 * token is checked without a round trip and an instance cut off from NATS
 * keeps accepting the tunnels it knew. `add-server` and `remove-server`
 * write the bucket; the change reaches every instance within moments.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { KV, NatsConnection } from 'nats';
import { UserError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { RegistryUnavailable, hashToken, parseEntry, checkServerId } from './registry.ts';
import type { Entry, RelayRegistry } from './registry.ts';

export const BUCKET = 'cb-relay-servers';

async function openBucket(nc: NatsConnection): Promise<KV> {
  try {
    return await nc.jetstream().views.kv(BUCKET, { history: 1 });
  } catch (err) {
    throw new UserError(
      'nats_unavailable',
      `cannot open the NATS key-value bucket ${BUCKET}: ${(err as Error).message}`,
      { hint: 'run nats-server with JetStream enabled (nats-server -js)' },
    );
  }
}

export class FleetRegistry implements RelayRegistry {
  readonly #servers = new Map<string, Entry>();
  readonly #kv: KV;
  #ready = false;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Opens the bucket and starts the watch; resolves once every entry has been read. */
  static async open(nc: NatsConnection, log: Logger): Promise<FleetRegistry> {
    const kv = await openBucket(nc);
    const registry = new FleetRegistry(kv);
    let initialized!: () => void;
    const loaded = new Promise<void>((resolve) => {
      initialized = resolve;
    });
    const watch = await kv.watch({ initializedFn: () => initialized() });
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'DEL' || e.operation === 'PURGE') {
          if (registry.#servers.delete(e.key)) log.info('registry.removed', { serverId: e.key });
          continue;
        }
        try {
          registry.#servers.set(e.key, parseEntry(e.key, JSON.parse(e.string())));
        } catch (err) {
          log.error('registry.bad_entry', { key: e.key.slice(0, 40), err: (err as Error).message });
        }
      }
    })();
    await loaded;
    registry.#ready = true;
    return registry;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get size(): number {
    return this.#servers.size;
  }

  /**
   * A server not (yet) in the copy is read from the bucket itself, so one
   * just added is known here before the watch brings it. False when the
   * bucket has no such server (or a malformed entry); throws
   * RegistryUnavailable when the bucket cannot be asked (NATS down, slow or
   * restarting): that is not "unknown", and must not be answered as such.
   */
  async lookup(serverId: string): Promise<boolean> {
    if (this.#servers.has(serverId)) return true;
    if (!/^[A-Za-z0-9_-]{22}$/.test(serverId)) return false;
    let e: Awaited<ReturnType<KV['get']>>;
    try {
      e = await this.#kv.get(serverId);
    } catch (err) {
      throw new RegistryUnavailable((err as Error).message);
    }
    if (e?.operation !== 'PUT') return false;
    try {
      this.#servers.set(serverId, parseEntry(serverId, JSON.parse(e.string())));
      return true;
    } catch {
      return false;
    }
  }

  has(serverId: string): boolean {
    return this.#servers.has(serverId);
  }

  verify(serverId: string, token: string): boolean {
    const entry = this.#servers.get(serverId);
    if (!entry) return false;
    return timingSafeEqual(Buffer.from(entry.tokenHash, 'hex'), hashToken(token));
  }
}

/** `add-server` in fleet mode: a new token for the server, written to the bucket. */
export async function addFleetServer(
  nc: NatsConnection,
  serverId: string,
  now: Date,
): Promise<{ token: string; replaced: boolean }> {
  checkServerId(serverId);
  const kv = await openBucket(nc);
  const replaced = (await kv.get(serverId))?.operation === 'PUT';
  const token = randomBytes(32).toString('base64url');
  const entry: Entry = { tokenHash: hashToken(token).toString('hex'), addedAt: now.toISOString() };
  await kv.put(serverId, JSON.stringify(entry));
  return { token, replaced };
}

/** `remove-server` in fleet mode; false if the bucket did not have it. */
export async function removeFleetServer(nc: NatsConnection, serverId: string): Promise<boolean> {
  checkServerId(serverId);
  const kv = await openBucket(nc);
  const had = (await kv.get(serverId))?.operation === 'PUT';
  if (had) await kv.purge(serverId);
  return had;
}
