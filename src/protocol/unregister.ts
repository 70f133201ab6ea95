/**
 * The signed unregister: a registered client asks its server to forget it,
 * signing with the key it registered (docs/protocol.md, "Unregister").
 * `sig = Ed25519(clientKey, "cb1 unregister" || canonical(body without sig))`.
 */
import { canonicalBytes, toB64u } from './encoding.ts';
import { signWith } from './keys.ts';
import type { SigningKey } from './keys.ts';
import { expectShape, b64Field, intField, stringField } from './schema.ts';

/** The signature context: signed bytes are this, then the canonical body without `sig`. */
export const UNREGISTER_CONTEXT = 'cb1 unregister';

export interface UnregisterRequest {
  readonly v: 1;
  readonly clientId: string;
  readonly serverId: string;
  readonly time: number;
  readonly sig: string;
}

/** Checks the shape of an unregister request (codes bad_request, unsupported_version). */
export function parseUnregister(body: unknown): UnregisterRequest {
  const what = 'the unregister request';
  const obj = expectShape(body, what, ['v', 'clientId', 'serverId', 'time', 'sig']);
  stringField(obj, 'clientId', what, 100, 1);
  b64Field(obj, 'serverId', what, 16);
  intField(obj, 'time', what, 0, Number.MAX_SAFE_INTEGER);
  b64Field(obj, 'sig', what, 64);
  return obj as unknown as UnregisterRequest;
}

/** The bytes the client signs: the canonical JSON of the request without `sig`. */
export function unregisterSignedBytes(req: Omit<UnregisterRequest, 'sig'>): Buffer {
  return canonicalBytes({
    v: req.v,
    clientId: req.clientId,
    serverId: req.serverId,
    time: req.time,
  });
}

/** Builds the signed request body. */
export function signUnregister(
  key: SigningKey,
  clientId: string,
  serverId: string,
  time: number,
): UnregisterRequest {
  const body = { v: 1 as const, clientId, serverId, time: Math.floor(time) };
  const sig = signWith(key.privateKey, UNREGISTER_CONTEXT, unregisterSignedBytes(body));
  return { ...body, sig: toB64u(sig) };
}
