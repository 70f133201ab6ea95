/**
 * The server's half of the handshake as pure functions: M1 -> M2 with the
 * state to keep, then M3 -> the accepted registration and its M4.
 */
import { randomInt } from 'node:crypto';
import { cpaceShare } from './cpace.ts';
import { fromB64u, toB64u } from './encoding.ts';
import { ProtocolError } from './errors.ts';
import type { ServerIdentity } from './identity.ts';
import { HANDSHAKE_TTL_MS, newHandshakeId } from './pending.ts';
import type { PendingHandshake } from './pending.ts';
import { keyFingerprint, signWith, verifyWith } from './keys.ts';
import { MAX_SHARES, parseClientDetails } from './messages.ts';
import type { ClientDetails, M1, M2, M3, M4, SeenAs, ServerResult } from './messages.ts';
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

/** An active secret as the server holds it: an id and its PRS. */
export interface ActiveSecret {
  readonly id: string;
  readonly prs: Prs;
}

export interface StartContext {
  readonly identity: ServerIdentity;
  readonly seenAs: SeenAs;
  readonly secretRequired: boolean;
  readonly secrets: readonly ActiveSecret[];
  readonly now: number;
  readonly ttlMs?: number;
  /** The handshake id, when the caller reserved one before answering (default: a fresh one). */
  readonly hsId?: string;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Answers M1 with M2: one CPace share per active secret, in random order,
 * whenever M1 offers a share. A client that holds a secret thereby gets
 * the server's proof of it even where no secret is required, so it never
 * has to fall back to trusting an unauthenticated key.
 */
export function answerStart(m1: M1, ctx: StartContext): { m2: M2; pending: PendingHandshake } {
  const { identity } = ctx;
  if (m1.serverId !== identity.serverId) {
    throw new ProtocolError('wrong_server', 'this registration is addressed to another server');
  }
  if (ctx.secretRequired && m1.Ya === undefined) {
    throw new ProtocolError(
      'secret_required',
      `an authorization secret is required for ${ctx.seenAs} clients`,
    );
  }
  if (ctx.secretRequired && ctx.secrets.length === 0) {
    throw new ProtocolError(
      'no_active_secrets',
      'the server requires a secret but has no active secret; ask its administrator',
    );
  }
  if (ctx.secrets.length > MAX_SHARES) {
    throw new ProtocolError('too_many_shares', `at most ${MAX_SHARES} secrets may be active`);
  }
  const sid = fromB64u(m1.sid, 'M1.sid', 16);
  const cEph = fromB64u(m1.cEph, 'M1.cEph', 32);
  const eph = generateEphemeral();
  const dhe = scalarMultVfy(eph.secret, cEph);
  if (!dhe) throw new ProtocolError('low_order_point', 'M1.cEph is not a usable public key');

  const ya = m1.Ya === undefined ? null : fromB64u(m1.Ya, 'M1.Ya', 32);
  const secrets = ya ? shuffled(ctx.secrets) : [];
  const shares = secrets.map((secret) => {
    const g = generatorFor(secret.prs, identity.serverIdBytes, sid);
    for (;;) {
      const yb = randomScalar();
      const Yb = cpaceShare(yb, g);
      if (!Yb) continue;
      const k = scalarMultVfy(yb, ya as Buffer);
      if (!k) throw new ProtocolError('low_order_point', 'M1.Ya is not a usable CPace share');
      return { secretId: secret.id, Yb, isk: shareIsk(sid, k, ya as Buffer, Yb) };
    }
  });

  const core = {
    v: 1 as const,
    hsId: ctx.hsId ?? newHandshakeId(),
    serverKey: identity.serverKey,
    sEph: toB64u(eph.public),
    seenAs: ctx.seenAs,
    secretRequired: ctx.secretRequired,
    shares: shares.map((s) => ({ Yb: toB64u(s.Yb) })),
  };
  const th = transcriptOf(m1, core);
  const candidates = shares.map((s) => ({
    secretId: s.secretId,
    keys: deriveSessionKeys(dhe, s.isk, th),
  }));
  const signedShares = core.shares.map((s, i) => ({
    Yb: s.Yb,
    tagB: toB64u(confirmationTag((candidates[i] as { keys: SessionKeys }).keys.macB, th)),
  }));
  const m2: M2 = {
    ...core,
    shares: signedShares,
    sig: toB64u(signWith(identity.key.privateKey, CTX_SERVER, m2SignedBytes(th, signedShares))),
  };
  const pending: PendingHandshake = {
    hsId: core.hsId,
    expiresAt: ctx.now + (ctx.ttlMs ?? HANDSHAKE_TTL_MS),
    th,
    seenAs: ctx.seenAs,
    secretRequired: ctx.secretRequired,
    candidates,
    openKeys: ctx.secretRequired ? null : deriveSessionKeys(dhe, Buffer.alloc(0), th),
  };
  return { m2, pending };
}

function transcriptOf(m1: M1, core: Parameters<typeof m2CoreBytes>[0]): Buffer {
  return transcriptHash(m1Bytes(m1), m2CoreBytes(core));
}

/** A verified M3: who the client is, which secret it proved, and how to answer. */
export interface AcceptedRegistration {
  readonly details: ClientDetails;
  readonly clientKeyFingerprint: Buffer;
  readonly secretId: string | null;
  /** Whether M2 carried shares that this M3 did not prove: a guess that failed. */
  readonly unprovenShares: boolean;
  readonly seenAs: SeenAs;
  /** M4 for a completed registration. */
  respond(record: { clientId: string; registeredAt: string }): M4;
  /** M4 for a verify-only handshake (the agent's check). */
  respondVerified(): M4;
}

/**
 * Checks M3 against the pending handshake: the chosen share's tagA (in
 * constant time), the payload's integrity and the client's proof of
 * possession of its key.
 */
export function answerFinish(
  pending: PendingHandshake,
  m3: M3,
  identity: ServerIdentity,
): AcceptedRegistration {
  if (m3.hsId !== pending.hsId)
    throw new ProtocolError('handshake_unknown', 'M3 belongs to another handshake');
  if (pending.secretRequired && m3.share === undefined) {
    throw new ProtocolError('bad_request', 'M3 must name the matching share');
  }
  let keys: SessionKeys;
  let secretId: string | null = null;
  if (m3.share === undefined) {
    keys = pending.openKeys as SessionKeys;
  } else {
    const candidate = pending.candidates[m3.share];
    if (!candidate) throw new ProtocolError('bad_proof', 'M3 names a share that was not offered');
    ({ keys, secretId } = candidate);
  }
  if (!tagsEqual(fromB64u(m3.tagA, 'M3.tagA', 32), confirmationTag(keys.macA, pending.th))) {
    throw new ProtocolError(
      m3.share === undefined ? 'bad_proof' : 'invalid_secret',
      'the client confirmation tag does not verify',
    );
  }
  const details = parseClientDetails(openJson(keys.kC2S, pending.th, m3, 'M3'));
  const clientKeyRaw = fromB64u(details.clientKey, 'registration.clientKey', 32);
  if (
    !verifyWith(clientKeyRaw, CTX_CLIENT, pending.th, fromB64u(details.pop, 'registration.pop', 64))
  ) {
    throw new ProtocolError('bad_proof', 'the client did not prove possession of its key');
  }
  const fingerprint = keyFingerprint(clientKeyRaw);
  return {
    details,
    clientKeyFingerprint: fingerprint,
    secretId,
    unprovenShares: secretId === null && pending.candidates.length > 0,
    seenAs: pending.seenAs,
    ...m4Responses(identity, {
      kS2C: keys.kS2C,
      th: pending.th,
      clientKeyFingerprint: fingerprint,
    }),
  };
}

/**
 * The M4s for an M3 that answerFinish accepted, from the keys it was
 * accepted under. Separate so that a caller which verified M3 on another
 * thread answers with exactly what answerFinish would.
 */
export function m4Responses(
  identity: ServerIdentity,
  accepted: { readonly kS2C: Buffer; readonly th: Buffer; readonly clientKeyFingerprint: Buffer },
): Pick<AcceptedRegistration, 'respond' | 'respondVerified'> {
  const seal = (result: ServerResult): M4 => ({
    v: 1,
    ...sealJson(accepted.kS2C, accepted.th, result),
  });
  return {
    respond: ({ clientId, registeredAt }) => {
      const credential = signWith(
        identity.key.privateKey,
        CTX_CREDENTIAL,
        credentialBytes(clientId, accepted.clientKeyFingerprint, identity.serverId, registeredAt),
      );
      return seal({
        kind: 'registered',
        clientId,
        serverId: identity.serverId,
        registeredAt,
        credential: toB64u(credential),
      });
    },
    respondVerified: () => seal({ kind: 'verified', serverId: identity.serverId }),
  };
}
