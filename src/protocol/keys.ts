import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as edSign,
  verify as edVerify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { fromB64u, toB64u } from './encoding.ts';
import { ProtocolError } from './errors.ts';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An Ed25519 key pair: the private KeyObject and the raw 32-byte public key. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicRaw: Buffer;
}

/** A fresh Ed25519 key pair. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicRaw: rawFromPublicKey(publicKey) };
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawFromPublicKey(publicKey: KeyObject): Buffer {
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
}

/** SPKI DER of a raw Ed25519 public key. */
export function spkiOf(publicRaw: Uint8Array): Buffer {
  return Buffer.concat([ED25519_SPKI_PREFIX, publicRaw]);
}

/** SHA-256 of the SPKI DER: a key's fingerprint. */
export function keyFingerprint(publicRaw: Uint8Array): Buffer {
  return createHash('sha256').update(spkiOf(publicRaw)).digest();
}

/** A server pin: `sha256:` + base64url(SHA-256(SPKI DER)). */
export function pinOf(publicRaw: Uint8Array): string {
  return `sha256:${toB64u(keyFingerprint(publicRaw))}`;
}

/** True when `pin` is a well-formed pin. */
export function isPin(pin: string): boolean {
  if (!pin.startsWith('sha256:')) return false;
  try {
    fromB64u(pin.slice('sha256:'.length), 'pin', 32);
    return true;
  } catch {
    return false;
  }
}

/** PKCS#8 PEM of a private key, for storage. */
export function exportPrivateKeyPem(privateKey: KeyObject): string {
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A signing key from its PKCS#8 PEM. */
export function importSigningKey(pem: string): SigningKey {
  const privateKey = createPrivateKey({ key: pem, format: 'pem' });
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ProtocolError('bad_request', 'the stored key is not an Ed25519 key');
  }
  return { privateKey, publicRaw: rawFromPublicKey(createPublicKey(privateKey)) };
}

/** Ed25519 signature over context || data. */
export function signWith(privateKey: KeyObject, context: string, data: Uint8Array): Buffer {
  return edSign(null, Buffer.concat([Buffer.from(context, 'utf8'), data]), privateKey);
}

/** Verifies an Ed25519 signature over context || data by a raw public key. */
export function verifyWith(
  publicRaw: Uint8Array,
  context: string,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const key = createPublicKey({ key: spkiOf(publicRaw), format: 'der', type: 'spki' });
    return edVerify(null, Buffer.concat([Buffer.from(context, 'utf8'), data]), key, signature);
  } catch {
    return false;
  }
}
