import { canonicalBytes } from './encoding.ts';
import type { CanonicalValue } from './encoding.ts';
import { fromB64u, toB64u } from './encoding.ts';
import { ProtocolError } from './errors.ts';
import type { ServerIdentity } from './identity.ts';
import { pinOf, signWith, verifyWith } from './keys.ts';
import type { Hello, SeenAs } from './messages.ts';
import type { KdfParams } from './secret.ts';
import { CTX_HELLO } from './session.ts';

function helloBody(h: Omit<Hello, 'sig'>): Buffer {
  return canonicalBytes({
    v: h.v,
    serverId: h.serverId,
    serverKey: h.serverKey,
    seenAs: h.seenAs,
    secretRequired: h.secretRequired,
    kdf: h.kdf as unknown as CanonicalValue,
    time: h.time,
  });
}

/** The server's signed answer to a probe. */
export function createHello(
  identity: ServerIdentity,
  opts: { seenAs: SeenAs; secretRequired: boolean; kdf: KdfParams; now: number },
): Hello {
  const body: Omit<Hello, 'sig'> = {
    v: 1,
    serverId: identity.serverId,
    serverKey: identity.serverKey,
    seenAs: opts.seenAs,
    secretRequired: opts.secretRequired,
    kdf: { name: opts.kdf.name, N: opts.kdf.N, r: opts.kdf.r, p: opts.kdf.p },
    time: opts.now,
  };
  return { ...body, sig: toB64u(signWith(identity.key.privateKey, CTX_HELLO, helloBody(body))) };
}

/** What the client expects of the server it probes. */
export interface ServerExpectation {
  readonly serverId?: string;
  readonly pin?: string;
}

/**
 * Checks a hello: the expected server id, the pin when one is configured,
 * and the signature by the key it names. Returns the server's pin.
 */
export function verifyHello(hello: Hello, expect: ServerExpectation = {}): string {
  if (expect.serverId !== undefined && hello.serverId !== expect.serverId) {
    throw new ProtocolError(
      'wrong_server',
      'the server answered with another server id than the configured one',
    );
  }
  const keyRaw = fromB64u(hello.serverKey, 'hello.serverKey', 32);
  const pin = pinOf(keyRaw);
  if (expect.pin !== undefined && pin !== expect.pin) {
    throw new ProtocolError(
      'pin_mismatch',
      `the server key ${pin} does not match the configured pin ${expect.pin}`,
    );
  }
  if (!verifyWith(keyRaw, CTX_HELLO, helloBody(hello), fromB64u(hello.sig, 'hello.sig', 64))) {
    throw new ProtocolError('bad_signature', 'the hello signature does not verify');
  }
  return pin;
}
