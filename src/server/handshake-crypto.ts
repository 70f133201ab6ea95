/**
 * The CPU-heavy handshake steps (M1 -> M2 with up to 16 CPace shares,
 * M3 -> accepted) behind one interface: inline on the calling thread, or on
 * a pool of worker threads sized to the machine, so that one instance uses
 * every core and its event loop stays free for I/O.
 *
 * Both implementations mean exactly what answerStart and answerFinish mean:
 * the same results, and the same ProtocolError (class, code, message) for
 * every refusal. The pool adds one failure of its own, CryptoBusy.
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  ProtocolError,
  answerFinish,
  answerStart,
  decodePending,
  encodePending,
  exportPrivateKeyPem,
  m4Responses,
} from '../protocol/index.ts';
import type {
  AcceptedRegistration,
  M1,
  M2,
  M3,
  PendingHandshake,
  ServerIdentity,
  StartContext,
} from '../protocol/index.ts';
import type { Outcome, Task, TaskValues, WorkerSetup } from './handshake-worker.ts';

/** The handshake's CPU-heavy steps: on the event loop, or on the worker pool. */
export interface HandshakeSteps {
  start(
    m1: M1,
    ctx: Omit<StartContext, 'identity'>,
  ): Promise<{ m2: M2; pending: PendingHandshake }>;
  finish(pending: PendingHandshake, m3: M3): Promise<AcceptedRegistration>;
}

/**
 * The handshake steps off the event loop (answerStart and answerFinish, the
 * identity being the server's own); respond/respondVerified of a finish's
 * result run on the calling thread.
 */
export interface HandshakeCrypto extends HandshakeSteps {
  /**
   * The threadId that answers, once every thread has loaded its worker: the
   * pool's proof that it can (await it at start-up to fail fast).
   */
  ping(): Promise<number>;
  /** Worker threads in use; 0 = inline. */
  readonly threads: number;
  /** Ends the workers once each has loaded and the tasks they run are done. */
  close(): Promise<void>;
}

/**
 * The pool is saturated: every thread busy and its queue full. Nothing was
 * computed; the caller answers 503 with the `busy` code (see STATUS_OF) and
 * the client retries shortly.
 */
export class CryptoBusy extends Error {
  override readonly name = 'CryptoBusy';
  readonly code = 'busy';

  constructor(queued: number) {
    super(`the handshake pool is saturated (${queued} tasks queued); retry shortly`);
  }
}

/** As many threads as the machine has cores for this process. */
export function defaultThreads(): number {
  return availableParallelism();
}

/** The handshake on the calling thread: for tests and `--workers 0`. */
export function inlineCrypto(identity: ServerIdentity): HandshakeCrypto {
  return {
    threads: 0,
    // Promise.resolve().then so a refusal is a rejection, never a synchronous throw, as with the pool.
    start: (m1, ctx) => Promise.resolve().then(() => answerStart(m1, { ...ctx, identity })),
    finish: (pending, m3) => Promise.resolve().then(() => answerFinish(pending, m3, identity)),
    ping: () => Promise.resolve(threadId),
    close: () => Promise.resolve(),
  };
}

export interface PoolOptions {
  /** Worker threads (at least 1); defaultThreads() for one per core. */
  readonly threads: number;
  /** Tasks that may wait for a thread before CryptoBusy (default 64 per thread). */
  readonly maxQueue?: number;
}

/**
 * Where the worker is and how to start it. Built, this module is
 * dist/lib/server/handshake-crypto.js and the worker is the .js beside it.
 * From the sources (vitest, tsx) it is a .ts file, which a worker cannot
 * load by itself: it does not inherit the parent's TypeScript transform, so
 * it gets tsx's loader, resolved from here rather than from the working
 * directory.
 */
function workerEntry(): { filename: string; execArgv?: string[] } {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) {
    return { filename: fileURLToPath(new URL('./handshake-worker.js', self)) };
  }
  const tsx = pathToFileURL(createRequire(self).resolve('tsx')).href;
  return {
    filename: fileURLToPath(new URL('./handshake-worker.ts', self)),
    execArgv: ['--import', tsx],
  };
}

/**
 * The handshake on a pool of worker threads (piscina) holding the server's
 * identity. Tasks beyond the running ones queue up to `maxQueue`; past that
 * a call rejects with CryptoBusy. A worker that fails outside a task (it
 * could not load, or crashed) is a bug: every waiting and later call then
 * rejects with that Error instead of hanging.
 */
export function pooledCrypto(identity: ServerIdentity, opts: PoolOptions): HandshakeCrypto {
  const { threads } = opts;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(
      `a handshake pool needs a whole number of threads, at least 1 (got ${threads})`,
    );
  }
  const maxQueue = opts.maxQueue ?? 64 * threads;
  const setup: WorkerSetup = {
    serverId: identity.serverId,
    keyPem: exportPrivateKeyPem(identity.key.privateKey),
  };
  const pool = new Piscina<Task, Outcome<unknown>>({
    ...workerEntry(),
    // A fixed size, started now: the first handshakes do not wait for threads to boot.
    minThreads: threads,
    maxThreads: threads,
    workerData: setup,
  });
  // Counted here rather than with piscina's maxQueue, so CryptoBusy is ours and not a message to match.
  let inFlight = 0;
  let failure: Error | null = null;
  let closed = false;
  const waiting = new Set<(err: Error) => void>();
  const fail = (err: unknown): void => {
    failure ??= err instanceof Error ? err : new Error(String(err));
    for (const reject of waiting) reject(failure);
    waiting.clear();
  };
  pool.on('error', fail);
  // Each thread gets one ping now (they are all idle, so piscina gives each
  // its own) and answers it once it has loaded its module. Until then it must
  // not be terminated: ending a worker inside require(esm) aborts the whole
  // process (Node 20.20: "FATAL ERROR: v8::Module::IsGraphAsync", or an
  // assertion in CreateRequiredModuleFacade), and a server that could not
  // listen then died by SIGABRT instead of exiting 2. ping() waits for every
  // answer, close() for every thread to answer or fail.
  const pings = Array.from({ length: threads }, () => pool.run({ op: 'ping' }));
  const settled = Promise.allSettled(pings);
  const loaded = Promise.all(pings).then(() => undefined, fail);

  async function run<K extends Task['op']>(task: Extract<Task, { op: K }>): Promise<TaskValues[K]> {
    if (failure) throw failure;
    if (closed) throw new Error('the handshake pool is closed');
    if (inFlight >= threads + maxQueue) throw new CryptoBusy(inFlight - threads);
    inFlight++;
    let reject: (err: Error) => void = () => {};
    const failed = new Promise<never>((_, r) => (reject = r));
    waiting.add(reject);
    try {
      const outcome = (await Promise.race([pool.run(task), failed])) as Outcome<TaskValues[K]>;
      if (!outcome.ok) throw new ProtocolError(outcome.code, outcome.message);
      return outcome.value;
    } finally {
      inFlight--;
      waiting.delete(reject);
    }
  }

  return {
    threads,
    async start(m1, ctx) {
      const { m2, pending } = await run({
        op: 'start',
        m1,
        ctx: {
          seenAs: ctx.seenAs,
          secretRequired: ctx.secretRequired,
          now: ctx.now,
          ttlMs: ctx.ttlMs,
          hsId: ctx.hsId,
          // A copy of exactly 32 bytes: cloning a view clones its whole buffer, which for a
          // pooled Buffer holds other bytes too.
          secrets: ctx.secrets.map((s) => ({ id: s.id, prs: Uint8Array.from(s.prs.use()) })),
        },
      });
      return { m2, pending: decodePending(pending) };
    },
    async finish(pending, m3) {
      const wire = await run({ op: 'finish', pending: encodePending(pending), m3 });
      // The worker accepted this M3 under the keys of the share it names, as answerFinish does.
      const keys = m3.share === undefined ? pending.openKeys : pending.candidates[m3.share]?.keys;
      if (!keys) throw new Error('the pool accepted an M3 whose keys the pending handshake lacks');
      const clientKeyFingerprint = Buffer.from(wire.clientKeyFingerprint, 'base64url');
      return {
        ...wire,
        clientKeyFingerprint,
        ...m4Responses(identity, { kS2C: keys.kS2C, th: pending.th, clientKeyFingerprint }),
      };
    },
    async ping() {
      await loaded;
      return run({ op: 'ping' });
    },
    async close() {
      if (closed) return;
      closed = true;
      await settled;
      await pool.close();
    },
  };
}
