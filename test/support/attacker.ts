/**
 * What an attacker sends, over real HTTP: M1s with a share from a guessed
 * secret (or a random valid point) that are never finished, so the guess
 * is checked offline against the tags of M2.
 */
import {
  Secret,
  continueRegistration,
  derivePrs,
  fromB64u,
  generateSigningKey,
  parseM2,
  startRegistration,
} from '../../src/protocol/index.ts';
import type { Prs } from '../../src/protocol/index.ts';
import { DETAILS } from './exchange.ts';
import { call, endpoint, hello } from './wire-client.ts';
import type { Route } from './wire-client.ts';

export interface GuessOutcome {
  readonly status: number;
  /** Whether the guess matched one of M2's shares (checked on the attacker's machine). */
  readonly matched: boolean;
  readonly retryAfter?: string;
}

/** One M1-only guess: derive, send M1, check M2's tags locally, never send M3 or an abort. */
export async function guessByM1(
  route: Route,
  prs: Prs,
  serverId: string,
  localAddress?: string,
): Promise<GuessOutcome> {
  const start = startRegistration({ serverId, prs });
  const r = await call(endpoint(route, 'register/start'), start.m1, localAddress);
  const retryAfter = r.headers['retry-after'];
  if (r.status !== 200)
    return {
      status: r.status,
      matched: false,
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
    };
  const step = continueRegistration(start, parseM2(r.body), {
    trust: { allowTofu: true },
    clientKey: generateSigningKey(),
    details: DETAILS,
  });
  return { status: r.status, matched: step.kind === 'finish' };
}

/** The PRS of a guessed secret for a server, as the attacker derives it. */
export async function prsOfGuess(
  route: Route,
  guess: string,
): Promise<{ prs: Prs; serverId: string }> {
  const h = await hello(route);
  return {
    prs: await derivePrs(Secret.from(guess), fromB64u(h.serverId, 'serverId', 16), h.kdf),
    serverId: h.serverId,
  };
}

/** An M1 whose Ya is a random valid point: no secret needed, costs the server a share per secret. */
export function floodM1(serverId: string): Record<string, unknown> {
  // A fresh X25519 public key is a valid point: the server cannot tell it from a real share.
  const ya = startRegistration({ serverId }).m1.cEph;
  return { ...startRegistration({ serverId }).m1, Ya: ya };
}
