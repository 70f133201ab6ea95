/**
 * What the server keeps of a handshake between M2 and M3, and that state
 * as JSON text for a shared store or a worker thread. Text read back is
 * checked like any other input.
 */
import { randomBytes } from 'node:crypto';
import { fromB64u, toB64u } from './encoding.ts';
import { ProtocolError } from './errors.ts';
import type { SeenAs } from './messages.ts';
import type { SessionKeys } from './session.ts';

/** How long a handshake may stay open between M2 and M3. */
export const HANDSHAKE_TTL_MS = 60_000;

/** What the server keeps between M2 and M3. */
export interface PendingHandshake {
  readonly hsId: string;
  readonly expiresAt: number;
  readonly th: Buffer;
  readonly seenAs: SeenAs;
  readonly secretRequired: boolean;
  /** Per share, in the order sent; empty when M2 carried no shares. */
  readonly candidates: readonly { readonly secretId: string; readonly keys: SessionKeys }[];
  /** The keys without a secret: set only when no secret is required. */
  readonly openKeys: SessionKeys | null;
}

/** A fresh handshake id (16 random bytes, base64url). */
export function newHandshakeId(): string {
  return toB64u(randomBytes(16));
}

/** A pending handshake as bytes-free JSON text, to keep in a shared store or pass to a worker. */
export function encodePending(p: PendingHandshake): string {
  const keys = (k: SessionKeys): Record<string, string> => ({
    kC2S: toB64u(k.kC2S),
    kS2C: toB64u(k.kS2C),
    macA: toB64u(k.macA),
    macB: toB64u(k.macB),
  });
  return JSON.stringify({
    hsId: p.hsId,
    expiresAt: p.expiresAt,
    th: toB64u(p.th),
    seenAs: p.seenAs,
    secretRequired: p.secretRequired,
    candidates: p.candidates.map((c) => ({ secretId: c.secretId, keys: keys(c.keys) })),
    openKeys: p.openKeys ? keys(p.openKeys) : null,
  });
}

/** Reads what encodePending wrote; anything else is a ProtocolError (stored data is checked too). */
export function decodePending(text: string): PendingHandshake {
  try {
    const o = JSON.parse(text) as {
      hsId: string;
      expiresAt: number;
      th: string;
      seenAs: SeenAs;
      secretRequired: boolean;
      candidates: { secretId: string; keys: Record<string, string> }[];
      openKeys: Record<string, string> | null;
    };
    const keys = (k: Record<string, string>): SessionKeys => ({
      kC2S: fromB64u(k.kC2S as string, 'kC2S', 32),
      kS2C: fromB64u(k.kS2C as string, 'kS2C', 32),
      macA: fromB64u(k.macA as string, 'macA', 32),
      macB: fromB64u(k.macB as string, 'macB', 32),
    });
    if (
      typeof o.hsId !== 'string' ||
      typeof o.expiresAt !== 'number' ||
      !Array.isArray(o.candidates)
    )
      throw new Error('fields missing');
    return {
      hsId: o.hsId,
      expiresAt: o.expiresAt,
      th: fromB64u(o.th, 'th', 64),
      seenAs: o.seenAs,
      secretRequired: o.secretRequired === true,
      candidates: o.candidates.map((c) => ({ secretId: String(c.secretId), keys: keys(c.keys) })),
      openKeys: o.openKeys ? keys(o.openKeys) : null,
    };
  } catch (err) {
    throw new ProtocolError(
      'handshake_unknown',
      `a stored handshake is unreadable: ${(err as Error).message}`,
    );
  }
}
