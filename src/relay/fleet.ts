/**
 * Fleet mode: several relay instances behind a load balancer, joined by
 * NATS. A server's tunnel (its long polls) may sit on any instance; a
 * client request that lands on an instance without a waiting poll travels
 * over NATS request/reply to one instance that has one (a queue group, so
 * exactly one answers). A reply the server posts to the wrong instance is
 * carried to the instance that holds the request, named in its id.
 *
 * Subjects: `cbr.srv.<serverId>` (queue group `holders`: instances where
 * the server polled recently) and `cbr.reply.<instanceId>`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, Events, connect } from 'nats';
import type { Msg, NatsConnection, NatsError, Subscription } from 'nats';
import type { Logger } from '../common/log.ts';
import { answerPeer, codec } from './fleet-peer.ts';
import type { FromHolder, PeerDeps, ToHolder, ToOwner } from './fleet-peer.ts';
import { timeoutReply } from './queue.ts';
import type { RelayItem, RelayQueues, ReplyPayload } from './queue.ts';

/** No instance holds the tunnel: ask again for this long before answering server_offline. */
const OFFLINE_CONFIRM_MS = 1_500;

export type Forwarded = ReplyPayload | 'busy' | 'offline';

export interface FleetDeps {
  readonly queues: RelayQueues;
  readonly log: Logger;
  /** How long a client request waits for its server before 504. */
  readonly requestTimeoutMs: number;
  /** A server is online here while polling and this long after. */
  readonly onlineGraceMs: number;
}

export interface FleetCounters {
  forwardedOut: number;
  heldForPeers: number;
  repliesForwarded: number;
}

export class Fleet {
  readonly instanceId = randomBytes(6).toString('base64url');
  readonly counters: FleetCounters = { forwardedOut: 0, heldForPeers: 0, repliesForwarded: 0 };
  readonly #nc: NatsConnection;
  readonly #deps: FleetDeps;
  readonly #holding = new Map<string, Subscription>();
  readonly #sweep: NodeJS.Timeout;
  readonly #peers: PeerDeps;
  #connected = true;
  #rttMs: number | null = null;

  private constructor(nc: NatsConnection, deps: FleetDeps) {
    this.#nc = nc;
    this.#deps = deps;
    this.#peers = {
      ...deps,
      newId: () => this.newId(),
      onHeld: () => {
        this.counters.heldForPeers += 1;
      },
    };
    nc.subscribe(`cbr.reply.${this.instanceId}`, {
      callback: (err, msg) => {
        if (!err) this.#onOwnerReply(msg);
      },
    });
    deps.queues.onPoll = (serverId) => this.#hold(serverId);
    this.#sweep = setInterval(() => this.#release(), 1_000);
    this.#sweep.unref();
    void this.#watchStatus();
  }

  /** Connects to NATS (waiting for it if it is not up yet) and joins the fleet. */
  static async join(servers: string[], deps: FleetDeps): Promise<Fleet> {
    const nc = await connect({
      servers,
      name: 'bootstrap-relay',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: true,
      pingInterval: 5_000,
      maxPingOut: 2,
    });
    return new Fleet(nc, deps);
  }

  get connection(): NatsConnection {
    return this.#nc;
  }

  get connected(): boolean {
    return this.#connected && !this.#nc.isClosed();
  }

  /** The last measured NATS round trip, in ms. */
  get rttMs(): number | null {
    return this.#rttMs;
  }

  /** Servers whose tunnel this instance holds (a poll within the grace). */
  get tunnelsHeld(): number {
    return this.#holding.size;
  }

  /** A request id that names this instance, so a reply posted elsewhere finds its way back. */
  newId(): string {
    return `${this.instanceId}.${randomUUID()}`;
  }

  async #watchStatus(): Promise<void> {
    const measure = async (): Promise<void> => {
      try {
        this.#rttMs = await this.#nc.rtt();
      } catch {
        this.#rttMs = null;
      }
    };
    await measure();
    const timer = setInterval(() => void measure(), 10_000);
    timer.unref();
    for await (const s of this.#nc.status()) {
      if (s.type === Events.Disconnect && this.#connected) {
        this.#connected = false;
        this.#deps.log.warn('fleet.degraded', {
          reason: 'NATS is unreachable; serving only the tunnels held here',
        });
      } else if (s.type === Events.Reconnect && !this.#connected) {
        this.#connected = true;
        this.#deps.log.info('fleet.recovered', { nats: typeof s.data === 'string' ? s.data : '' });
        void measure();
      }
    }
    clearInterval(timer);
  }

  /** A poll arrived for `serverId`: take requests for it from the other instances. */
  #hold(serverId: string): void {
    if (this.#holding.has(serverId)) return;
    const sub = this.#nc.subscribe(`cbr.srv.${serverId}`, {
      queue: 'holders',
      callback: (err, msg) => {
        if (!err) answerPeer(this.#peers, serverId, msg);
      },
    });
    this.#holding.set(serverId, sub);
    this.#deps.log.info('fleet.tunnel_held', { serverId, instance: this.instanceId });
  }

  /** Stops taking requests for servers that stopped polling here. */
  #release(): void {
    for (const [serverId, sub] of this.#holding) {
      if (this.#deps.queues.isOnline(serverId, this.#deps.onlineGraceMs)) continue;
      sub.unsubscribe();
      this.#holding.delete(serverId);
      this.#deps.log.info('fleet.tunnel_released', { serverId, instance: this.instanceId });
    }
  }

  #onOwnerReply(msg: Msg): void {
    let m: ToOwner;
    try {
      m = codec.decode(msg.data) as ToOwner;
    } catch {
      return;
    }
    const accepted =
      typeof m?.serverId === 'string' &&
      typeof m.id === 'string' &&
      this.#deps.queues.reply(m.serverId, m.id, m.reply);
    try {
      msg.respond(codec.encode({ accepted }));
    } catch {
      // nothing to do: the poster counts it as unknown
    }
  }

  /**
   * Carries a client request to an instance holding the server's tunnel.
   * `signal` aborts when the client goes away.
   */
  async forward(
    serverId: string,
    item: Omit<RelayItem, 'id'>,
    signal: AbortSignal,
  ): Promise<Forwarded> {
    const started = Date.now();
    const deadline = started + this.#deps.requestTimeoutMs;
    this.counters.forwardedOut += 1;
    const data = codec.encode({ t: 'req', item } satisfies ToHolder);
    for (let round = 0; ; round++) {
      if (signal.aborted) return 'offline';
      const left = deadline - Date.now();
      if (left <= 0) return timeoutReply();
      let answer: FromHolder;
      try {
        const msg = await this.#nc.request(`cbr.srv.${serverId}`, data, { timeout: left });
        answer = codec.decode(msg.data) as FromHolder;
      } catch (err) {
        const code: string = (err as NatsError).code;
        if (code === (ErrorCode.Timeout as string)) return timeoutReply();
        if (
          code === (ErrorCode.NoResponders as string) &&
          Date.now() - started < OFFLINE_CONFIRM_MS
        ) {
          await sleep(50 + 25 * Math.min(round, 6));
          continue;
        }
        return 'offline';
      }
      if (answer.t === 'reply') return answer.reply;
      if (answer.t === 'busy') return 'busy';
      await sleep(10 + Math.min(round, 20) * 5);
    }
  }

  /** Whether any instance holds the server's tunnel. */
  async online(serverId: string): Promise<boolean> {
    try {
      const msg = await this.#nc.request(
        `cbr.srv.${serverId}`,
        codec.encode({ t: 'status' } satisfies ToHolder),
        { timeout: 2_000 },
      );
      const answer = codec.decode(msg.data) as FromHolder;
      return answer.t === 'online' && answer.online;
    } catch {
      return false;
    }
  }

  /** A reply posted here for a request another instance holds; true if it took it. */
  async forwardReply(serverId: string, id: string, reply: ReplyPayload): Promise<boolean> {
    const owner = id.split('.')[0] ?? '';
    if (owner === this.instanceId || !/^[A-Za-z0-9_-]{8}$/.test(owner)) return false;
    this.counters.repliesForwarded += 1;
    try {
      const msg = await this.#nc.request(
        `cbr.reply.${owner}`,
        codec.encode({ serverId, id, reply } satisfies ToOwner),
        { timeout: 2_000 },
      );
      return (codec.decode(msg.data) as { accepted?: unknown }).accepted === true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#deps.queues.onPoll = undefined;
    try {
      await this.#nc.drain();
    } catch {
      await this.#nc.close().catch(() => undefined);
    }
  }
}
