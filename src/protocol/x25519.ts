import { createPrivateKey, createPublicKey, diffieHellman, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

// Keys are imported as JWK: OpenSSL's DER decoders cost about 1 ms a key,
// JWK import about 0.05 ms. A private JWK must name `x`, but only `d` is
// used (the published CPace vectors check this), so a fixed placeholder
// spares computing the public key.
const PLACEHOLDER_X = Buffer.alloc(32).toString('base64url');

function privateKeyFromScalar(scalar: Uint8Array): KeyObject {
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'X25519',
      d: Buffer.from(scalar).toString('base64url'),
      x: PLACEHOLDER_X,
    },
    format: 'jwk',
  });
}

function publicKeyFromU(u: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(u).toString('base64url') },
    format: 'jwk',
  });
}

const ZERO = Buffer.alloc(32);

/**
 * X25519(scalar, u) as RFC 7748, returning null for the all-zero result
 * (CPace's scalar_mult_vfy), which the caller must treat as an abort.
 */
export function scalarMultVfy(scalar: Uint8Array, u: Uint8Array): Buffer | null {
  if (scalar.length !== 32 || u.length !== 32) return null;
  let out: Buffer;
  try {
    out = diffieHellman({
      privateKey: privateKeyFromScalar(scalar),
      publicKey: publicKeyFromU(u),
    });
  } catch {
    // OpenSSL refuses to derive the all-zero shared secret.
    return null;
  }
  return out.equals(ZERO) ? null : out;
}

/** A fresh random X25519 scalar (clamped by X25519 itself). */
export function randomScalar(): Buffer {
  return randomBytes(32);
}

/** The X25519 base point u = 9. */
export const BASE_POINT: Buffer = (() => {
  const b = Buffer.alloc(32);
  b[0] = 9;
  return b;
})();

/** An ephemeral Diffie-Hellman key pair as raw bytes. */
export interface RawKeyPair {
  readonly secret: Buffer;
  readonly public: Buffer;
}

/** A fresh X25519 key pair. */
export function generateEphemeral(): RawKeyPair {
  for (;;) {
    const secret = randomScalar();
    const pub = scalarMultVfy(secret, BASE_POINT);
    if (pub) return { secret, public: pub };
  }
}
