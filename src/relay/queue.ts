/**
 * Per-server store-and-forward state of the relay: client requests wait in
 * a bounded queue until a server poll takes them, then until the server's
 * reply or the deadline. Pure bookkeeping: no sockets here.
 */
export interface RelayItem {
  readonly id: string;
  readonly kind: string;
  readonly body: string;
  readonly source: string;
}

export interface ReplyPayload {
  readonly status: number;
  readonly body: string;
  readonly retryAfter?: string;
}

/** The answer to a request the server did not answer in time. */
export const timeoutReply = (): ReplyPayload => ({
  status: 504,
  body: JSON.stringify({
    error: { code: 'relay_timeout', message: 'the server did not answer in time' },
  }),
});

interface Waiting {
  readonly item: RelayItem;
  readonly bytes: number;
  readonly complete: (reply: ReplyPayload | null) => void;
  readonly lane: ServerLane;
}

export interface QueueLimits {
  /** Requests held at once, queued or handed to the server, across all servers. */
  readonly maxItems: number;
  /** Bytes of request bodies held at once. */
  readonly maxBytes: number;
  /** Requests held at once for one server, so one customer's flood cannot fill the relay. */
  readonly maxPerServer: number;
}

type Poller = (items: RelayItem[]) => void;

class ServerLane {
  readonly queue: Waiting[] = [];
  readonly inflight = new Map<string, Waiting>();
  readonly pollers: Poller[] = [];
  lastSeen = -Infinity;
  held = 0;
}

export class RelayQueues {
  readonly #lanes = new Map<string, ServerLane>();
  readonly #limits: QueueLimits;
  readonly #now: () => number;
  #items = 0;
  #bytes = 0;
  /** Told of every poll (fleet mode: this instance now holds the server's tunnel). */
  onPoll: ((serverId: string) => void) | undefined;

  constructor(limits: QueueLimits, now: () => number) {
    this.#limits = limits;
    this.#now = now;
  }

  get held(): { items: number; bytes: number } {
    return { items: this.#items, bytes: this.#bytes };
  }

  #lane(serverId: string): ServerLane {
    let lane = this.#lanes.get(serverId);
    if (!lane) {
      lane = new ServerLane();
      this.#lanes.set(serverId, lane);
    }
    return lane;
  }

  /** Servers with a poll waiting here now. */
  get tunnels(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) if (lane.pollers.length > 0) n += 1;
    return n;
  }

  /** Servers that polled here within `ms` (a poll waits now, or one ended that recently). */
  activeTunnels(ms: number): number {
    let n = 0;
    for (const lane of this.#lanes.values())
      if (lane.pollers.length > 0 || this.#now() - lane.lastSeen <= ms) n += 1;
    return n;
  }

  /** A poll of this server is waiting here now. */
  hasPoller(serverId: string): boolean {
    return (this.#lanes.get(serverId)?.pollers.length ?? 0) > 0;
  }

  /** A poll is waiting, or one ended within `ms`: a request queued now is taken soon. */
  isActive(serverId: string, ms: number): boolean {
    const lane = this.#lanes.get(serverId);
    return !!lane && (lane.pollers.length > 0 || this.#now() - lane.lastSeen <= ms);
  }

  /** The request is still waiting for a poll (not yet handed to the server). */
  isQueued(serverId: string, id: string): boolean {
    return this.#lanes.get(serverId)?.queue.some((w) => w.item.id === id) ?? false;
  }

  /** Online: a poll is waiting now, or one ended within `graceMs`. */
  isOnline(serverId: string, graceMs: number): boolean {
    const lane = this.#lanes.get(serverId);
    return !!lane && (lane.pollers.length > 0 || this.#now() - lane.lastSeen <= graceMs);
  }

  /**
   * Holds a client request. Returns false when the limits are reached; else
   * `complete` is called exactly once: with the reply, or null if cancelled.
   */
  submit(
    serverId: string,
    item: RelayItem,
    complete: (reply: ReplyPayload | null) => void,
  ): boolean {
    const bytes = item.body.length;
    const lane = this.#lane(serverId);
    if (
      this.#items + 1 > this.#limits.maxItems ||
      this.#bytes + bytes > this.#limits.maxBytes ||
      lane.held + 1 > this.#limits.maxPerServer
    )
      return false;
    this.#items += 1;
    this.#bytes += bytes;
    lane.held += 1;
    const waiting: Waiting = { item, bytes, complete, lane };
    const poller = lane.pollers.shift();
    if (poller) {
      lane.inflight.set(item.id, waiting);
      poller([item]);
    } else {
      lane.queue.push(waiting);
    }
    return true;
  }

  /** Gives up on a request (timeout or client gone); true if it was still held. */
  cancel(serverId: string, id: string): boolean {
    const lane = this.#lanes.get(serverId);
    if (!lane) return false;
    const inflight = lane.inflight.get(id);
    if (inflight) {
      lane.inflight.delete(id);
      this.#release(inflight);
      return true;
    }
    const index = lane.queue.findIndex((w) => w.item.id === id);
    if (index < 0) return false;
    const [w] = lane.queue.splice(index, 1);
    this.#release(w as Waiting);
    return true;
  }

  /**
   * A server poll: takes up to `max` queued requests now, or registers to
   * receive the next ones. Returns a function that withdraws the poll.
   */
  poll(serverId: string, max: number, deliver: Poller): () => void {
    const lane = this.#lane(serverId);
    lane.lastSeen = this.#now();
    this.onPoll?.(serverId);
    if (lane.queue.length > 0) {
      const taken = lane.queue.splice(0, max);
      for (const w of taken) lane.inflight.set(w.item.id, w);
      deliver(taken.map((w) => w.item));
      return () => undefined;
    }
    lane.pollers.push(deliver);
    return () => {
      const i = lane.pollers.indexOf(deliver);
      if (i >= 0) lane.pollers.splice(i, 1);
      lane.lastSeen = this.#now();
    };
  }

  /**
   * A poll connection closed before its answer was sent: the server went
   * away. With no other poll waiting, it is offline at once, and the
   * requests it held or had queued fail now with `reply` instead of
   * waiting for their timeout.
   */
  gone(serverId: string, reply: ReplyPayload): void {
    const lane = this.#lanes.get(serverId);
    if (!lane || lane.pollers.length > 0) return;
    lane.lastSeen = -Infinity;
    const held = [...lane.queue, ...lane.inflight.values()];
    lane.queue.length = 0;
    lane.inflight.clear();
    for (const w of held) {
      this.#release(w);
      w.complete(reply);
    }
  }

  /**
   * Drops the servers `keep` refuses (removed from the registry): their
   * waiting polls end empty (the next one is refused) and the requests held
   * for them fail now with `reply`.
   */
  evict(keep: (serverId: string) => boolean, reply: ReplyPayload): string[] {
    const evicted: string[] = [];
    for (const [serverId, lane] of this.#lanes) {
      if (keep(serverId)) continue;
      evicted.push(serverId);
      this.#lanes.delete(serverId);
      for (const poller of lane.pollers.splice(0)) poller([]);
      for (const w of [...lane.queue.splice(0), ...lane.inflight.values()]) {
        this.#release(w);
        w.complete(reply);
      }
      lane.inflight.clear();
    }
    return evicted;
  }

  /** The server's reply to a request it took; false if unknown (late or forged). */
  reply(serverId: string, id: string, reply: ReplyPayload): boolean {
    const lane = this.#lanes.get(serverId);
    const w = lane?.inflight.get(id);
    if (!lane || !w) return false;
    lane.inflight.delete(id);
    this.#release(w);
    w.complete(reply);
    return true;
  }

  #release(w: Waiting): void {
    this.#items -= 1;
    this.#bytes -= w.bytes;
    w.lane.held -= 1;
  }
}
