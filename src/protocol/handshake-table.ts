import { ProtocolError } from './errors.ts';
import type { PendingHandshake } from './server-side.ts';

/**
 * Open handshakes between M2 and M3: bounded, each taken at most once,
 * expired by the injected clock.
 */
export class HandshakeTable {
  readonly #open = new Map<string, PendingHandshake>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Stores a handshake; false when the table is full even after pruning. */
  add(pending: PendingHandshake, now: number): boolean {
    if (this.#open.size >= this.#limit) this.prune(now);
    if (this.#open.size >= this.#limit) return false;
    this.#open.set(pending.hsId, pending);
    return true;
  }

  /** Takes a handshake out; an unknown, used or expired id throws handshake_expired. */
  take(hsId: string, now: number): PendingHandshake {
    const pending = this.#open.get(hsId);
    this.#open.delete(hsId);
    if (!pending || pending.expiresAt <= now) {
      throw new ProtocolError(
        'handshake_expired',
        'the handshake is unknown, already used or expired; start again',
      );
    }
    return pending;
  }

  /** Drops every expired handshake (insertion order is expiry order). */
  prune(now: number): void {
    for (const [id, pending] of this.#open) {
      if (pending.expiresAt > now) break;
      this.#open.delete(id);
    }
  }
}
