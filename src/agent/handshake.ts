/** One registration handshake (M1..M4) over a chosen route. */
import { isTransient } from './retry.ts';
import { UserError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import {
  ProtocolError,
  continueRegistration,
  finishRegistration,
  parseErrorBody,
  parseM2,
  parseM4,
  startRegistration,
} from '../protocol/index.ts';
import type {
  ClientDetails,
  Hello,
  Prs,
  ServerAuth,
  ServerResult,
  ServerTrust,
  SigningKey,
} from '../protocol/index.ts';
import type { RouteTarget } from './probe.ts';
import { TransportError } from './transport.ts';
import type { HttpReply, Transport } from './transport.ts';

/** A failed attempt: a stable code, and the server's Retry-After if any. */
export class AttemptError extends UserError {
  readonly retryAfter: string | undefined;
  constructor(
    code: string,
    message: string,
    options: { hint?: string; cause?: unknown; retryAfter?: string } = {},
  ) {
    super(code, message, options);
    this.retryAfter = options.retryAfter;
  }
}

export interface HandshakeInput {
  readonly target: RouteTarget;
  readonly hello: Hello;
  readonly prs?: Prs;
  readonly clientKey: SigningKey;
  readonly details: Omit<ClientDetails, 'clientKey' | 'pop'>;
  readonly trust: ServerTrust;
  readonly transport: Transport;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly log: Logger;
}

export interface HandshakeOutcome {
  readonly result: ServerResult;
  readonly serverAuth: ServerAuth;
  readonly pin: string;
}

const HINTS: Record<string, string> = {
  invalid_secret: 'check the spelling of the secret, or ask the administrator for the current one',
  secret_revoked: 'the administrator removed this secret; get the current one',
  no_active_secrets: 'the server requires a secret but has none; ask its administrator to add one',
  wrong_server: 'check --server-id against bootstrap-server auth show',
};

/** A 429 in words: who limits, how long it asks to wait, what to do. */
function rateLimited(
  step: string,
  reply: HttpReply,
  serverMessage: string | undefined,
): AttemptError {
  const seconds =
    reply.retryAfter && /^\d+$/.test(reply.retryAfter) ? Number(reply.retryAfter) : undefined;
  const wait = seconds === undefined ? 'a while' : `${seconds} s`;
  return new AttemptError(
    'rate_limited',
    `${step}: the server limits attempts from this address (HTTP 429${serverMessage ? `: ${serverMessage}` : ''}); it asks to wait ${wait}`,
    {
      hint: `wait ${wait} and run it again (a deployment tool should retry exit 8 later); if it keeps happening, ask the administrator which machines behind this address are failing (the attempts on the admin page)`,
      ...(reply.retryAfter ? { retryAfter: reply.retryAfter } : {}),
    },
  );
}

function replyError(step: string, reply: HttpReply): AttemptError {
  const err = parseErrorBody(reply.json);
  const named = err?.code ?? `http_${reply.status}`;
  // The protocol says to retry every 502, 503 and 504: one with a code this agent does not know is still one.
  const code =
    [502, 503, 504].includes(reply.status) && !isTransient(named) ? `http_${reply.status}` : named;
  if (reply.status === 429) return rateLimited(step, reply, err?.message);
  const hint = HINTS[code];
  return new AttemptError(
    code,
    `${step}: the server answered HTTP ${reply.status}${err ? ` (${err.code}: ${err.message})` : ''}`,
    {
      ...(hint ? { hint } : {}),
      ...(reply.retryAfter ? { retryAfter: reply.retryAfter } : {}),
    },
  );
}

async function post(
  input: HandshakeInput,
  url: string,
  body: unknown,
  step: string,
): Promise<HttpReply> {
  try {
    return await input.transport.send('POST', url, body, {
      signal: input.signal,
      timeoutMs: input.timeoutMs,
    });
  } catch (err) {
    if (err instanceof TransportError)
      throw new AttemptError(
        err.kind === 'timeout' ? 'timeout' : err.code === 'unreachable' ? 'reset' : err.code,
        `${step}: ${err.message}`,
        { cause: err, ...(err.hint ? { hint: err.hint } : {}) },
      );
    throw err;
  }
}

/** Runs M1..M4; throws AttemptError (or ProtocolError as AttemptError) with a stable code. */
export async function runHandshake(input: HandshakeInput): Promise<HandshakeOutcome> {
  const { target, log } = input;
  const start = startRegistration(
    input.prs
      ? { serverId: input.hello.serverId, prs: input.prs }
      : { serverId: input.hello.serverId },
  );
  log.debug('register.m1', { route: target.name, withShare: start.m1.Ya !== undefined });
  const r2 = await post(input, target.start, start.m1, 'register/start');
  if (r2.status !== 200) throw replyError('register/start', r2);
  try {
    const step = continueRegistration(start, parseM2(r2.json), {
      trust: input.trust,
      clientKey: input.clientKey,
      details: input.details,
    });
    if (step.kind === 'abort') {
      log.info('register.abort', {
        route: target.name,
        reason: 'no-matching-share',
        serverSide:
          'the administrator lists active secrets with: bootstrap-server auth secret list',
      });
      await post(input, target.finish, step.abort, 'register/finish (abort)').catch(
        () => undefined,
      );
      throw new AttemptError('invalid_secret', 'the secret was not accepted by the server', {
        hint: HINTS.invalid_secret as string,
      });
    }
    log.debug('register.m3', { route: target.name, serverAuth: step.serverAuth });
    const r4 = await post(input, target.finish, step.m3, 'register/finish');
    if (r4.status !== 200) throw replyError('register/finish', r4);
    return {
      result: finishRegistration(step.pending, parseM4(r4.json)),
      serverAuth: step.serverAuth,
      pin: step.pin,
    };
  } catch (err) {
    if (err instanceof ProtocolError)
      throw new AttemptError(err.code, `the server's answer failed a check: ${err.message}`, {
        cause: err,
      });
    throw err;
  }
}
