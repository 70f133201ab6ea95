/**
 * Primitives both sides of the handshake share: the transcript hash, the
 * session keys, confirmation tags and the encrypted payloads.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { calculateGenerator, intermediateSessionKey } from './cpace.ts';
import { canonicalBytes, fromB64u, lvCat, toB64u } from './encoding.ts';
import type { CanonicalValue } from './encoding.ts';
import { ProtocolError } from './errors.ts';
import type { M1, M2 } from './messages.ts';
import type { Prs } from './secret.ts';
import { parseJsonText } from './schema.ts';

export const CTX_HELLO = 'cb1 hello';
export const CTX_SERVER = 'cb1 server';
export const CTX_CLIENT = 'cb1 client';
export const CTX_CREDENTIAL = 'cb1 credential';
const KEYS_INFO = 'cb1 keys';
const AD_CLIENT = 'client';
const AD_SERVER = 'server';

/** The four session keys of one candidate share. */
export interface SessionKeys {
  readonly kC2S: Buffer;
  readonly kS2C: Buffer;
  readonly macA: Buffer;
  readonly macB: Buffer;
}

/** CPace channel identifier: lv("cb1", serverId). */
export function channelId(serverId: Uint8Array): Buffer {
  return lvCat('cb1', serverId);
}

/** The CPace generator for one secret in this handshake. */
export function generatorFor(prs: Prs, serverId: Uint8Array, sid: Uint8Array): Buffer {
  return calculateGenerator(prs.use(), channelId(serverId), sid);
}

/** M1 as the transcript sees it: its canonical encoding. */
export function m1Bytes(m1: M1): Buffer {
  return canonicalBytes(m1 as unknown as CanonicalValue);
}

/** M2 without tags and signature, canonically encoded. */
export function m2CoreBytes(
  m2: Omit<M2, 'sig' | 'shares'> & { shares: readonly { Yb: string }[] },
): Buffer {
  return canonicalBytes({
    v: m2.v,
    hsId: m2.hsId,
    serverKey: m2.serverKey,
    sEph: m2.sEph,
    seenAs: m2.seenAs,
    secretRequired: m2.secretRequired,
    shares: m2.shares.map((s) => ({ Yb: s.Yb })),
  });
}

/** th = H(lv(M1 bytes, M2 core bytes)). */
export function transcriptHash(m1: Buffer, m2Core: Buffer): Buffer {
  return createHash('sha512').update(lvCat(m1, m2Core)).digest();
}

/**
 * What the server signs in M2: th followed by every share's tagB, so that no
 * byte of M2 can change unnoticed (PROTOCOL.md signed th alone; see
 * docs/protocol.md).
 */
export function m2SignedBytes(th: Uint8Array, shares: readonly { tagB: string }[]): Buffer {
  return Buffer.concat([th, lvCat(...shares.map((s) => fromB64u(s.tagB, 'M2.tagB', 32)))]);
}

/** ISK for one share, with AD "client" and "server". */
export function shareIsk(sid: Uint8Array, k: Uint8Array, ya: Uint8Array, yb: Uint8Array): Buffer {
  return intermediateSessionKey(sid, k, ya, AD_CLIENT, yb, AD_SERVER);
}

/** kC2S, kS2C, macA, macB = HKDF-SHA256(DHE || ISK, th, "cb1 keys", 128). */
export function deriveSessionKeys(dhe: Uint8Array, isk: Uint8Array, th: Uint8Array): SessionKeys {
  const okm = Buffer.from(hkdfSync('sha256', Buffer.concat([dhe, isk]), th, KEYS_INFO, 128));
  return {
    kC2S: okm.subarray(0, 32),
    kS2C: okm.subarray(32, 64),
    macA: okm.subarray(64, 96),
    macB: okm.subarray(96, 128),
  };
}

/** HMAC-SHA256(key, th). */
export function confirmationTag(key: Uint8Array, th: Uint8Array): Buffer {
  return createHmac('sha256', key).update(th).digest();
}

/** Constant-time comparison of a received tag with the expected one. */
export function tagsEqual(received: Uint8Array, expected: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(received, expected);
}

/** AES-256-GCM over a JSON payload with the transcript as associated data. */
export function sealJson(
  key: Uint8Array,
  th: Uint8Array,
  payload: CanonicalValue,
): { iv: string; ct: string } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(th);
  const body = Buffer.concat([
    cipher.update(canonicalBytes(payload)),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return { iv: toB64u(iv), ct: toB64u(body) };
}

/** Opens a sealed payload; any tampering gives decrypt_failed. */
export function openJson(
  key: Uint8Array,
  th: Uint8Array,
  sealed: { iv: string; ct: string },
  what: string,
): unknown {
  const iv = fromB64u(sealed.iv, `${what}.iv`, 12);
  const body = fromB64u(sealed.ct, `${what}.ct`);
  if (body.length < 17)
    throw new ProtocolError('decrypt_failed', `${what} is too short to be sealed`);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(th);
    decipher.setAuthTag(body.subarray(body.length - 16));
    plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  } catch (err) {
    throw new ProtocolError(
      'decrypt_failed',
      `${what} could not be decrypted: it was altered or sent for another handshake`,
      {
        cause: err,
      },
    );
  }
  return parseJsonText(plain.toString('utf8'), what);
}

/** The bytes a client credential signature covers. */
export function credentialBytes(
  clientId: string,
  fingerprint: Uint8Array,
  serverId: string,
  registeredAt: string,
): Buffer {
  return lvCat(clientId, fingerprint, serverId, registeredAt);
}
