import { ProtocolError } from './errors.ts';
import type { PendingHandshake } from './pending.ts';

/** An open handshake and the source that opened it. */
export interface OpenHandshake {
  readonly pending: PendingHandshake;
  readonly source: string;
  /** The wider network the source belongs to, counted too (empty: none). */
  readonly network: string;
}

/** What `remove` found: nothing, a live handshake, or one that had expired. */
export type Removed =
  | { readonly found: false }
  | { readonly found: true; readonly expired: boolean; readonly open: OpenHandshake };

/** Whether an open handshake carried CPace shares, i.e. tested a guess of the secret. */
export function isGuess(pending: PendingHandshake): boolean {
  return pending.candidates.length > 0;
}

interface SourceCount {
  open: number;
  guesses: number;
}

/**
 * Open handshakes between M2 and M3: bounded, each taken at most once,
 * expired by the injected clock, and counted per source so that the
 * caller can cap one source's share of the table before spending any
 * crypto on it. Expired handshakes are handed back, never dropped
 * silently: a guess that was never finished is a failed guess.
 */
export class HandshakeTable {
  readonly #open = new Map<string, OpenHandshake>();
  readonly #bySource = new Map<string, SourceCount>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Open handshakes, and those among them that carry shares, for one source. */
  openFor(source: string): { open: number; guesses: number } {
    const c = this.#bySource.get(source);
    return { open: c?.open ?? 0, guesses: c?.guesses ?? 0 };
  }

  /**
   * Stores a handshake; false when the table is full even after pruning
   * (the expired ones pruned to make room are passed to `onExpired`).
   */
  add(
    pending: PendingHandshake,
    now: number,
    source = '',
    onExpired?: (expired: OpenHandshake) => void,
    network = '',
  ): boolean {
    if (this.#open.size >= this.#limit) {
      for (const e of this.prune(now)) onExpired?.(e);
    }
    if (this.#open.size >= this.#limit) return false;
    const open = { pending, source, network };
    this.#open.set(pending.hsId, open);
    this.#counts(open, 1);
    return true;
  }

  /** Takes a handshake out, whatever its state, and says whether it had expired. */
  remove(hsId: string, now: number): Removed {
    const open = this.#open.get(hsId);
    if (!open) return { found: false };
    this.#open.delete(hsId);
    this.#counts(open, -1);
    return { found: true, expired: open.pending.expiresAt <= now, open };
  }

  /** Takes a handshake out; an unknown, used or expired id throws handshake_expired. */
  take(hsId: string, now: number): PendingHandshake {
    const r = this.remove(hsId, now);
    if (!r.found || r.expired) {
      throw new ProtocolError(
        'handshake_expired',
        'the handshake is unknown, already used or expired; start again',
      );
    }
    return r.open.pending;
  }

  /** Removes and returns every expired handshake (insertion order is expiry order). */
  prune(now: number): OpenHandshake[] {
    const expired: OpenHandshake[] = [];
    for (const [id, open] of this.#open) {
      if (open.pending.expiresAt > now) break;
      this.#open.delete(id);
      this.#counts(open, -1);
      expired.push(open);
    }
    return expired;
  }

  #counts(open: OpenHandshake, delta: 1 | -1): void {
    this.#count(open.source, open.pending, delta);
    if (open.network !== '') this.#count(open.network, open.pending, delta);
  }

  #count(source: string, pending: PendingHandshake, delta: 1 | -1): void {
    const c = this.#bySource.get(source) ?? { open: 0, guesses: 0 };
    c.open += delta;
    if (isGuess(pending)) c.guesses += delta;
    if (c.open <= 0) this.#bySource.delete(source);
    else this.#bySource.set(source, c);
  }
}
