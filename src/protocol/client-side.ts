/**
 * The client's half of the handshake as pure functions: build M1, check M2
 * and answer with M3 (or an abort), then check M4.
 */
import { randomBytes } from 'node:crypto';
import { cpaceShare } from './cpace.ts';
import { fromB64u, toB64u } from './encoding.ts';
import type { CanonicalValue } from './encoding.ts';
import { ProtocolError } from './errors.ts';
import { keyFingerprint, pinOf, signWith, verifyWith } from './keys.ts';
import type { SigningKey } from './keys.ts';
import { parseServerResult } from './messages.ts';
import type { Abort, ClientDetails, M1, M2, M3, M4, ServerResult } from './messages.ts';
import type { Prs } from './secret.ts';
import {
  CTX_CLIENT,
  CTX_CREDENTIAL,
  CTX_SERVER,
  confirmationTag,
  credentialBytes,
  deriveSessionKeys,
  generatorFor,
  m1Bytes,
  m2CoreBytes,
  m2SignedBytes,
  openJson,
  sealJson,
  shareIsk,
  tagsEqual,
  transcriptHash,
} from './session.ts';
import type { SessionKeys } from './session.ts';
import { generateEphemeral, randomScalar, scalarMultVfy } from './x25519.ts';

/** What the client keeps between M1 and M2. Holds key material: never log it. */
export interface ClientStart {
  readonly m1: M1;
  readonly serverIdBytes: Buffer;
  readonly sid: Buffer;
  readonly cEphSecret: Buffer;
  readonly ya: { readonly scalar: Buffer; readonly share: Buffer } | null;
}

/** Builds M1; with a PRS, includes the CPace share Ya. */
export function startRegistration(opts: { serverId: string; prs?: Prs }): ClientStart {
  const serverIdBytes = fromB64u(opts.serverId, 'serverId', 16);
  const sid = randomBytes(16);
  const eph = generateEphemeral();
  let ya: ClientStart['ya'] = null;
  if (opts.prs) {
    const g = generatorFor(opts.prs, serverIdBytes, sid);
    for (;;) {
      const scalar = randomScalar();
      const share = cpaceShare(scalar, g);
      if (share) {
        ya = { scalar, share };
        break;
      }
    }
  }
  const base = {
    v: 1 as const,
    serverId: opts.serverId,
    sid: toB64u(sid),
    cEph: toB64u(eph.public),
  };
  const m1: M1 = ya ? { ...base, Ya: toB64u(ya.share) } : base;
  return { m1, serverIdBytes, sid, cEphSecret: eph.secret, ya };
}

/**
 * How the client decides to trust the server's key. A client that holds a
 * secret never trusts on first use: the server must prove the secret (a
 * matching share) or match the pin, whatever it says is required.
 */
export interface ServerTrust {
  /** A configured pin: the key must match it. */
  readonly pin?: string;
  /** Accept an unpinned key when the client holds no secret (direct route only). */
  readonly allowTofu: boolean;
}

/** How the server was authenticated in a handshake. */
export type ServerAuth = 'pin' | 'secret' | 'tofu';

/** What the client keeps between M3 and M4. */
export interface ClientPending {
  readonly th: Buffer;
  readonly kS2C: Buffer;
  readonly serverKeyRaw: Buffer;
  readonly serverId: string;
  readonly clientKeyFingerprint: Buffer;
  readonly verifyOnly: boolean;
}

export type ClientStep =
  | {
      readonly kind: 'finish';
      readonly m3: M3;
      readonly pending: ClientPending;
      readonly serverAuth: ServerAuth;
      readonly pin: string;
    }
  | { readonly kind: 'abort'; readonly abort: Abort; readonly error: ProtocolError };

export interface ContinueOptions {
  readonly trust: ServerTrust;
  readonly clientKey: SigningKey;
  readonly details: Omit<ClientDetails, 'clientKey' | 'pop'>;
}

function matchingShares(
  start: ClientStart,
  m2: M2,
  dhe: Buffer,
  th: Buffer,
): { index: number; keys: SessionKeys }[] {
  const ya = start.ya;
  if (!ya) return [];
  const found: { index: number; keys: SessionKeys }[] = [];
  m2.shares.forEach((share, index) => {
    const yb = fromB64u(share.Yb, 'M2.Yb', 32);
    const k = scalarMultVfy(ya.scalar, yb);
    if (!k) return;
    const keys = deriveSessionKeys(dhe, shareIsk(start.sid, k, ya.share, yb), th);
    if (tagsEqual(fromB64u(share.tagB, 'M2.tagB', 32), confirmationTag(keys.macB, th)))
      found.push({ index, keys });
  });
  return found;
}

/**
 * Checks M2 in order: pin, signature, then exactly one matching share when
 * a secret is required. Returns M3, or the abort to send when no share
 * matches (a wrong secret, or a peer that is not the server).
 */
export function continueRegistration(
  start: ClientStart,
  m2: M2,
  opts: ContinueOptions,
): ClientStep {
  const serverKeyRaw = fromB64u(m2.serverKey, 'M2.serverKey', 32);
  const pin = pinOf(serverKeyRaw);
  if (opts.trust.pin !== undefined && pin !== opts.trust.pin) {
    throw new ProtocolError(
      'pin_mismatch',
      `the server key ${pin} does not match the configured pin ${opts.trust.pin}`,
    );
  }
  const th = transcriptHash(m1Bytes(start.m1), m2CoreBytes(m2));
  if (
    !verifyWith(
      serverKeyRaw,
      CTX_SERVER,
      m2SignedBytes(th, m2.shares),
      fromB64u(m2.sig, 'M2.sig', 64),
    )
  ) {
    throw new ProtocolError(
      'bad_signature',
      'the server signature over the handshake does not verify',
    );
  }
  if (m2.secretRequired && !start.ya) {
    throw new ProtocolError(
      'secret_required',
      `the server requires a secret for ${m2.seenAs} clients`,
    );
  }
  const cEph = fromB64u(m2.sEph, 'M2.sEph', 32);
  const dhe = scalarMultVfy(start.cEphSecret, cEph);
  if (!dhe) throw new ProtocolError('low_order_point', 'M2.sEph is not a usable public key');

  const pinned = opts.trust.pin !== undefined;
  let keys: SessionKeys;
  let share: number | undefined;
  let serverAuth: ServerAuth;
  const matches = matchingShares(start, m2, dhe, th);
  if (start.ya && matches.length === 1) {
    const match = matches[0] as { index: number; keys: SessionKeys };
    keys = match.keys;
    share = match.index;
    serverAuth = pinned ? 'pin' : 'secret';
  } else if (start.ya && (m2.secretRequired || !pinned)) {
    if (m2.shares.length === 0 && !m2.secretRequired) {
      // A server that offers no share to a client holding a secret proves nothing:
      // without a pin this is how an impostor would downgrade the client to trust on first use.
      throw new ProtocolError(
        'server_unauthenticated',
        'the server did not prove knowledge of the secret and no pin is configured',
      );
    }
    return {
      kind: 'abort',
      abort: { v: 1, hsId: m2.hsId, abort: 'no-matching-share' },
      error: new ProtocolError(
        'invalid_secret',
        'the secret was not accepted: no share of the server matches it',
      ),
    };
  } else {
    // No secret held, or a pinned server that requires none and did not match a stale one.
    keys = deriveSessionKeys(dhe, Buffer.alloc(0), th);
    if (pinned) serverAuth = 'pin';
    else if (opts.trust.allowTofu) serverAuth = 'tofu';
    else {
      throw new ProtocolError(
        'server_unauthenticated',
        'the server could not be authenticated: no pin is configured and no secret was used',
      );
    }
  }

  const verifyOnly = opts.details.verifyOnly === true;
  const payload: ClientDetails = {
    ...opts.details,
    clientKey: toB64u(opts.clientKey.publicRaw),
    pop: toB64u(signWith(opts.clientKey.privateKey, CTX_CLIENT, th)),
  };
  const sealed = sealJson(keys.kC2S, th, payload as unknown as CanonicalValue);
  const tagA = toB64u(confirmationTag(keys.macA, th));
  const m3: M3 =
    share === undefined
      ? { v: 1, hsId: m2.hsId, tagA, ...sealed }
      : { v: 1, hsId: m2.hsId, share, tagA, ...sealed };
  return {
    kind: 'finish',
    m3,
    serverAuth,
    pin,
    pending: {
      th,
      kS2C: keys.kS2C,
      serverKeyRaw,
      serverId: start.m1.serverId,
      clientKeyFingerprint: keyFingerprint(opts.clientKey.publicRaw),
      verifyOnly,
    },
  };
}

/** Opens and checks M4: the result and, for a registration, its credential. */
export function finishRegistration(pending: ClientPending, m4: M4): ServerResult {
  const result = parseServerResult(openJson(pending.kS2C, pending.th, m4, 'M4'));
  if (result.serverId !== pending.serverId) {
    throw new ProtocolError('bad_credential', 'the server answered for another server id');
  }
  if (result.kind === 'verified') {
    if (!pending.verifyOnly)
      throw new ProtocolError(
        'bad_credential',
        'the server only verified the secret but a registration was asked for',
      );
    return result;
  }
  if (pending.verifyOnly)
    throw new ProtocolError(
      'bad_credential',
      'the server registered although only a check was asked for',
    );
  const ok = verifyWith(
    pending.serverKeyRaw,
    CTX_CREDENTIAL,
    credentialBytes(
      result.clientId,
      pending.clientKeyFingerprint,
      result.serverId,
      result.registeredAt,
    ),
    fromB64u(result.credential, 'credential', 64),
  );
  if (!ok)
    throw new ProtocolError(
      'bad_credential',
      'the registration credential is not signed by the server',
    );
  return result;
}
