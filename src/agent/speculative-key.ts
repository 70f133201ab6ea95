/**
 * The key derived from the secret (PRS = scrypt over the server id), started
 * as early as possible: when the server id is known before the probes answer,
 * the derivation starts at once with the parameters servers announce by
 * default, in the libuv thread pool while the probes run on the event loop.
 *
 * Nothing derived is handed out before a verified hello: `forHello` takes the
 * hello the probe has checked (signature, server id, pin), and the
 * speculative key is used only when that hello names the same server id and
 * parameters; otherwise it is wiped when it finishes and the key is derived
 * again for the hello.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import { DEFAULT_KDF, derivePrs, fromB64u } from '../protocol/index.ts';
import type { Hello, KdfParams, Prs, Secret } from '../protocol/index.ts';
import { takeEarlyKey } from './early-key.ts';
import type { EarlyKey } from './early-key.ts';
import type { Timings } from './timings.ts';

/** Two derivations run at once only while they fit in this much memory together. */
const MAX_CONCURRENT_KDF_BYTES = 256 * 1024 * 1024;

interface Derivation {
  readonly key: string;
  readonly bytes: number;
  readonly speculative: boolean;
  /** Settles with the key; a failure is reported when the key is asked for. */
  readonly result: Promise<{ prs: Prs; doneAt: number } | { error: unknown }>;
  done: boolean;
}

const keyOf = (serverId: string, kdf: KdfParams): string =>
  `${serverId}/${kdf.name}/${kdf.N}/${kdf.r}/${kdf.p}`;

export class KeyDeriver {
  readonly #secret: Secret;
  readonly #log: Logger;
  readonly #timings: Timings | undefined;
  #current: Derivation | undefined;

  constructor(
    secret: Secret,
    deps: { log: Logger; timings?: Timings; early?: EarlyKey | undefined },
  ) {
    this.#secret = secret;
    this.#log = deps.log;
    this.#timings = deps.timings;
    this.#adopt('early' in deps ? deps.early : takeEarlyKey());
  }

  /**
   * Takes the derivation the entry point started (early-key.ts) when it is
   * for this very secret; otherwise wipes it once it is done.
   */
  #adopt(early: EarlyKey | undefined): void {
    if (!early) return;
    const mine = this.#secret.use();
    const theirs = early.secret.use();
    const same = mine.length === theirs.length && timingSafeEqual(mine, theirs);
    early.secret.wipe();
    if (!same) {
      this.#log.debug('derive.early_discarded', { reason: 'another secret' });
      wipeWhenDone(early.result);
      return;
    }
    const t = this.#timings;
    t?.start('derivation', t.since(early.startedAt));
    this.#current = track(
      keyOf(early.serverId, early.kdf),
      early.kdf,
      true,
      early.result.then((r) => ('prs' in r ? { prs: r.prs, doneAt: t?.since(r.doneAt) ?? 0 } : r)),
    );
    this.#log.debug('derive.early', { N: early.kdf.N, r: early.kdf.r, p: early.kdf.p });
  }

  /**
   * Starts deriving for a server id not yet confirmed by a hello, with the
   * parameters a server announces by default. Nothing is sent; the key
   * stays here until a verified hello asks for it.
   */
  speculate(serverId: string): void {
    if (this.#current) return;
    let salt: Buffer;
    try {
      salt = fromB64u(serverId, 'serverId', 16);
    } catch {
      return; // not a server id: the probe will say so
    }
    this.#current = this.#begin(keyOf(serverId, DEFAULT_KDF), salt, DEFAULT_KDF, true);
    this.#log.debug('derive.speculative_start', {
      N: DEFAULT_KDF.N,
      r: DEFAULT_KDF.r,
      p: DEFAULT_KDF.p,
    });
  }

  /** True when the key for this hello is derived already (no wait). */
  ready(hello: Hello): boolean {
    const c = this.#current;
    return c !== undefined && c.done && c.key === keyOf(hello.serverId, hello.kdf);
  }

  /** The key for a verified hello: the speculative one when it matches, else a new derivation. */
  async forHello(hello: Hello): Promise<Prs> {
    const key = keyOf(hello.serverId, hello.kdf);
    let c = this.#current;
    if (c && c.key !== key) {
      this.#log.debug('derive.speculative_discarded', {
        sameServer: c.key.startsWith(`${hello.serverId}/`),
        N: hello.kdf.N,
        r: hello.kdf.r,
        p: hello.kdf.p,
      });
      const old = c;
      this.#current = undefined;
      wipeWhenDone(old.result);
      // scrypt cannot be stopped: wait for it first when both would not fit in memory.
      if (!old.done && old.bytes + kdfBytes(hello.kdf) > MAX_CONCURRENT_KDF_BYTES) await old.result;
      c = undefined;
    } else if (c?.speculative) {
      this.#log.debug('derive.speculative_used', { ready: c.done });
    }
    if (!c) {
      c = this.#begin(key, fromB64u(hello.serverId, 'serverId', 16), hello.kdf, false);
      this.#current = c;
    }
    const r = await c.result;
    if ('error' in r) {
      if (this.#current === c) this.#current = undefined;
      throw r.error;
    }
    this.#timings?.end('derivation', r.doneAt);
    this.#log.debug('derive.done', { N: hello.kdf.N });
    return r.prs;
  }

  /** Forgets (and wipes) every key: the secret was wrong. */
  clear(): void {
    const c = this.#current;
    this.#current = undefined;
    if (c) wipeWhenDone(c.result);
  }

  #begin(key: string, salt: Buffer, kdf: KdfParams, speculative: boolean): Derivation {
    this.#timings?.start('derivation');
    return track(
      key,
      kdf,
      speculative,
      derivePrs(this.#secret, salt, kdf).then(
        (prs) => ({ prs, doneAt: this.#timings?.sinceMain() ?? 0 }),
        (error: unknown) => ({ error }),
      ),
    );
  }
}

/** A derivation under way, marked done when its result settles. */
function track(
  key: string,
  kdf: KdfParams,
  speculative: boolean,
  result: Derivation['result'],
): Derivation {
  const d: Derivation = { key, bytes: kdfBytes(kdf), speculative, done: false, result };
  void result.then(() => {
    d.done = true;
  });
  return d;
}

/** Wipes a key nobody will use once scrypt has made it (scrypt cannot be stopped). */
function wipeWhenDone(result: Derivation['result']): void {
  void result.then((r) => {
    if ('prs' in r) r.prs.wipe();
  });
}

function kdfBytes(kdf: KdfParams): number {
  return 128 * kdf.N * kdf.r;
}
