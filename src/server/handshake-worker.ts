/**
 * The worker thread of the handshake pool (see handshake-crypto.ts): runs
 * answerStart and answerFinish with the server's identity, which it gets
 * once, at start-up, through workerData.
 *
 * Only plain data crosses the thread boundary, and a ProtocolError comes
 * back as a value (its code and message), not as a throw: structured clone
 * would turn it into a plain Error and the caller could no longer tell an
 * expected refusal from a bug. Anything else thrown here is a bug and
 * reaches the caller as the plain Error it is.
 */
import { threadId, workerData } from 'node:worker_threads';
import {
  Prs,
  ProtocolError,
  answerFinish,
  answerStart,
  decodePending,
  encodePending,
  importSigningKey,
  serverIdentity,
  toB64u,
} from '../protocol/index.ts';
import type {
  ClientDetails,
  M1,
  M2,
  M3,
  ProtocolErrorCode,
  SeenAs,
  ServerIdentity,
  StartContext,
} from '../protocol/index.ts';

/** What the pool hands each worker once: the identity, its key as PKCS#8 PEM. Never log it. */
export interface WorkerSetup {
  readonly serverId: string;
  readonly keyPem: string;
}

/** StartContext without the identity, with each PRS as its bytes (a Prs does not survive cloning). */
export interface WireStartContext extends Omit<StartContext, 'identity' | 'secrets'> {
  readonly secrets: readonly { readonly id: string; readonly prs: Uint8Array }[];
}

/** An accepted M3 as plain data; the caller adds respond/respondVerified. */
export interface WireAccepted {
  readonly details: ClientDetails;
  readonly clientKeyFingerprint: string;
  readonly secretId: string | null;
  readonly unprovenShares: boolean;
  readonly seenAs: SeenAs;
}

export type Task =
  | { readonly op: 'start'; readonly m1: M1; readonly ctx: WireStartContext }
  | { readonly op: 'finish'; readonly pending: string; readonly m3: M3 }
  | { readonly op: 'ping' };

/** What each task answers with; the pending handshake as encodePending's text. */
export interface TaskValues {
  readonly start: { readonly m2: M2; readonly pending: string };
  readonly finish: WireAccepted;
  /** The worker's threadId: proves the work left the main thread. */
  readonly ping: number;
}

export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: ProtocolErrorCode; readonly message: string };

function identityFrom(setup: unknown): ServerIdentity {
  const s = setup as Partial<WorkerSetup> | null;
  if (typeof s?.serverId !== 'string' || typeof s.keyPem !== 'string') {
    throw new Error(
      'handshake-worker runs only as a worker of pooledCrypto (workerData is missing)',
    );
  }
  return serverIdentity(s.serverId, importSigningKey(s.keyPem));
}

// Read at load, so that a worker that cannot build the identity fails while the pool starts.
const identity = identityFrom(workerData);

function perform(task: Task): TaskValues[Task['op']] {
  switch (task.op) {
    case 'start': {
      const { secrets, ...rest } = task.ctx;
      const { m2, pending } = answerStart(task.m1, {
        ...rest,
        identity,
        secrets: secrets.map((s) => ({ id: s.id, prs: Prs.fromBytes(s.prs) })),
      });
      return { m2, pending: encodePending(pending) };
    }
    case 'finish': {
      const accepted = answerFinish(decodePending(task.pending), task.m3, identity);
      return {
        details: accepted.details,
        clientKeyFingerprint: toB64u(accepted.clientKeyFingerprint),
        secretId: accepted.secretId,
        unprovenShares: accepted.unprovenShares,
        seenAs: accepted.seenAs,
      };
    }
    case 'ping':
      return threadId;
  }
}

/** The task handler piscina calls. */
export default function handleTask(task: Task): Outcome<TaskValues[Task['op']]> {
  try {
    return { ok: true, value: perform(task) };
  } catch (err) {
    if (err instanceof ProtocolError) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
}
