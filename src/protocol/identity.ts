import { randomBytes } from 'node:crypto';
import { fromB64u, toB64u } from './encoding.ts';
import { generateSigningKey, pinOf } from './keys.ts';
import type { SigningKey } from './keys.ts';

/** The server's long-term identity: its id and Ed25519 key. */
export interface ServerIdentity {
  readonly serverId: string;
  readonly serverIdBytes: Buffer;
  readonly key: SigningKey;
  readonly serverKey: string;
  readonly pin: string;
}

/** Builds an identity from a stored id and key. */
export function serverIdentity(serverId: string, key: SigningKey): ServerIdentity {
  return {
    serverId,
    serverIdBytes: fromB64u(serverId, 'serverId', 16),
    key,
    serverKey: toB64u(key.publicRaw),
    pin: pinOf(key.publicRaw),
  };
}

/**
 * A brand-new identity: 16 random bytes of id and a fresh key. The id is
 * drawn again while its text starts with "-" (one in 64), since it is typed
 * on command lines where such a word reads as an option.
 */
export function createServerIdentity(): ServerIdentity {
  let id = toB64u(randomBytes(16));
  while (id.startsWith('-')) id = toB64u(randomBytes(16));
  return serverIdentity(id, generateSigningKey());
}
