/**
 * The registration state that guards the secret: handshakes open between
 * M2 and M3, the per-source guess counters and the server-wide alarm
 * count. One server process keeps them in memory (state-memory.ts);
 * instances sharing a PostgreSQL store keep them there, so that an M3 may
 * reach any instance and the limits hold for the estate, not per instance.
 */
import type { PendingHandshake } from '../protocol/index.ts';
import type { Admission } from './rate-limit.ts';

/** A start about to be answered: what the limits decide on and what is reserved. */
export interface StartRequest {
  /** The handshake id its M2 will carry. */
  readonly hsId: string;
  /** The source key (route and address) the guess is charged to. */
  readonly source: string;
  /** The wider network it belongs to ('' for none). */
  readonly network: string;
  /** Whether its M2 will carry shares (a guess of the secret). */
  readonly guess: boolean;
  readonly expiresAt: number;
  readonly now: number;
}

export type StartAdmission =
  Admission | { readonly ok: false; readonly reason: 'busy'; readonly retryAfterMs: number };

/** A handshake taken out of the state, with the source it is charged to. */
export interface TakenHandshake {
  readonly hsId: string;
  readonly source: string;
  readonly network: string;
  readonly guess: boolean;
  /** Null for a reservation whose M2 was never stored (its instance died in between). */
  readonly pending: PendingHandshake | null;
}

export type Taken =
  | { readonly found: false }
  | { readonly found: true; readonly expired: boolean; readonly open: TakenHandshake };

export interface RegistrationState {
  /**
   * Decides a start and, when admitted, reserves its handshake in the same
   * atomic step: concurrent starts from one source, on this instance or
   * another, cannot pass the limit together.
   */
  admitStart(req: StartRequest): Promise<StartAdmission>;
  /** Stores the pending handshake of an admitted start (its reservation). */
  open(pending: PendingHandshake): Promise<void>;
  /** Drops a reservation whose start failed before an M2 was sent. */
  cancel(hsId: string): Promise<void>;
  /** Takes a handshake out at most once across the estate: a replayed M3 finds nothing. */
  take(hsId: string, now: number): Promise<Taken>;
  /** Takes out every expired handshake, each returned once across the estate. */
  prune(now: number): Promise<TakenHandshake[]>;
  /** A definite failed guess; returns how long the source is now blocked (0 if not). */
  recordFailure(source: string, now: number): Promise<number>;
  /** A registration that proved a secret: it widens the source's failure budget. */
  recordSuccess(source: string, now: number): Promise<void>;
  /** Counts one failed guess for the server-wide alarm. */
  alarmRecord(now: number): Promise<void>;
  /** Failed guesses in the hour up to `now`, over every source and instance. */
  alarmLastHour(now: number): Promise<number>;
  close(): Promise<void>;
}
