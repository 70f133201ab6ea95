/**
 * The fleet's messages over NATS, and the holder's side: how an instance
 * that holds a server's tunnel answers a peer that has a request for it.
 */
import { JSONCodec } from 'nats';
import type { Msg } from 'nats';
import { timeoutReply } from './queue.ts';
import type { RelayItem, RelayQueues, ReplyPayload } from './queue.ts';

/** What travels to a holder, and what it answers. */
export type ToHolder = { t: 'req'; item: Omit<RelayItem, 'id'> } | { t: 'status' };
export type FromHolder =
  | { t: 'reply'; reply: ReplyPayload }
  | { t: 'retry' }
  | { t: 'busy' }
  | { t: 'online'; online: boolean };

export interface ToOwner {
  readonly serverId: string;
  readonly id: string;
  readonly reply: ReplyPayload;
}

export const codec = JSONCodec<unknown>();

/** How long a request handed to a holder may wait in its queue before it is handed back. */
const QUEUED_HANDBACK_MS = 2_000;
/** A holder takes requests while a poll waits there or one ended this recently. */
const ACTIVE_MS = 1_000;

/** What the holder's side needs of its instance. */
export interface PeerDeps {
  readonly queues: RelayQueues;
  /** How long a client request waits for its server before 504. */
  readonly requestTimeoutMs: number;
  /** A server is online here while polling and this long after. */
  readonly onlineGraceMs: number;
  /** A request id that names this instance. */
  readonly newId: () => string;
  /** Counts a request taken for a peer. */
  readonly onHeld: () => void;
}

/**
 * A peer's message for a server whose tunnel this instance holds: a status
 * question, or a client request put in the local queue. A request no poll
 * here takes within QUEUED_HANDBACK_MS is handed back ('retry') so the
 * peer can find a poll elsewhere.
 */
export function answerPeer(deps: PeerDeps, serverId: string, msg: Msg): void {
  let m: ToHolder;
  try {
    m = codec.decode(msg.data) as ToHolder;
  } catch {
    return;
  }
  const respond = (answer: FromHolder): void => {
    try {
      msg.respond(codec.encode(answer));
    } catch {
      // the connection dropped: the requester times out and its agent retries
    }
  };
  const { queues } = deps;
  if (m.t === 'status') {
    respond({ t: 'online', online: queues.isOnline(serverId, deps.onlineGraceMs) });
    return;
  }
  if (m.t !== 'req' || typeof m.item?.body !== 'string') return;
  if (!queues.isActive(serverId, ACTIVE_MS)) {
    respond({ t: 'retry' });
    return;
  }
  const id = deps.newId();
  const timers: { timeout?: NodeJS.Timeout; handback?: NodeJS.Timeout } = {};
  const accepted = queues.submit(serverId, { ...m.item, id }, (reply) => {
    clearTimeout(timers.timeout);
    clearTimeout(timers.handback);
    respond(reply ? { t: 'reply', reply } : { t: 'retry' });
  });
  if (!accepted) {
    respond({ t: 'busy' });
    return;
  }
  deps.onHeld();
  timers.timeout = setTimeout(() => {
    if (queues.cancel(serverId, id)) respond({ t: 'reply', reply: timeoutReply() });
  }, deps.requestTimeoutMs);
  // Still queued (no poll came here): hand it back so the requester finds a poll elsewhere.
  timers.handback = setTimeout(() => {
    if (queues.isQueued(serverId, id) && queues.cancel(serverId, id)) {
      clearTimeout(timers.timeout);
      respond({ t: 'retry' });
    }
  }, QUEUED_HANDBACK_MS);
}
