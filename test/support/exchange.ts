/** Drives the protocol library end to end in memory, for tests and benchmarks. */
import {
  HandshakeTable,
  Secret,
  answerFinish,
  answerStart,
  continueRegistration,
  derivePrs,
  finishRegistration,
  generateSigningKey,
  parseJsonText,
  parseM1,
  parseM2,
  parseM3,
  parseM4,
  startRegistration,
} from '../../src/protocol/index.ts';
import type {
  ActiveSecret,
  ClientDetails,
  KdfParams,
  M1,
  M2,
  M3,
  M4,
  Prs,
  SeenAs,
  ServerIdentity,
  ServerResult,
  ServerTrust,
} from '../../src/protocol/index.ts';

/** The smallest parameters the client accepts: keeps tests fast. */
export const TEST_KDF: KdfParams = { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 };

export const DETAILS: Omit<ClientDetails, 'clientKey' | 'pop'> = {
  machineId: 'a'.repeat(64),
  hostname: 'pc-042',
  os: 'linux',
  arch: 'x64',
  agentVersion: '0.1.0',
  installId: 'install-1',
};

export async function makeSecrets(
  identity: ServerIdentity,
  texts: string[],
  kdf = TEST_KDF,
): Promise<ActiveSecret[]> {
  return Promise.all(
    texts.map(async (t, i) => ({
      id: `s${i}`,
      prs: await derivePrs(Secret.from(t), identity.serverIdBytes, kdf),
    })),
  );
}

/** Lets a test alter each message in transit (the JSON after serialisation). */
export interface Tamper {
  m1?: (m: Record<string, unknown>) => void;
  m2?: (m: Record<string, unknown>) => void;
  m3?: (m: Record<string, unknown>) => void;
  m4?: (m: Record<string, unknown>) => void;
}

export interface ExchangeOptions {
  identity: ServerIdentity;
  secrets: ActiveSecret[];
  secretRequired: boolean;
  clientPrs?: Prs;
  trust?: ServerTrust;
  seenAs?: SeenAs;
  tamper?: Tamper;
  verifyOnly?: boolean;
  now?: number;
  table?: HandshakeTable;
}

export type ExchangeOutcome =
  | {
      ok: true;
      result: ServerResult;
      secretId: string | null;
      m: { m1: M1; m2: M2; m3: M3; m4: M4 };
    }
  | {
      ok: false;
      failedAt: 'server-m1' | 'client-m2' | 'server-m3' | 'client-m4';
      error: unknown;
      abort?: boolean;
    };

/** A wire hop: serialise, let the tamper hook change it, parse strictly. */
function hop<T>(
  msg: T,
  tamper: ((m: Record<string, unknown>) => void) | undefined,
  parse: (v: unknown) => T,
): T {
  const wire = JSON.parse(JSON.stringify(msg)) as Record<string, unknown>;
  tamper?.(wire);
  return parse(parseJsonText(JSON.stringify(wire), 'message'));
}

export function runExchange(o: ExchangeOptions): ExchangeOutcome {
  const now = o.now ?? 1_000_000;
  const table = o.table ?? new HandshakeTable(100);
  const client = startRegistrationFor(o);
  let m1: M1, m2: M2;
  try {
    m1 = hop(client.m1, o.tamper?.m1, parseM1);
    const answered = answerStart(m1, {
      identity: o.identity,
      seenAs: o.seenAs ?? 'intranet',
      secretRequired: o.secretRequired,
      secrets: o.secrets,
      now,
    });
    table.add(answered.pending, now);
    m2 = answered.m2;
  } catch (error) {
    return { ok: false, failedAt: 'server-m1', error };
  }
  let step: ReturnType<typeof continueRegistration>;
  let m2In: M2;
  try {
    m2In = hop(m2, o.tamper?.m2, parseM2);
    step = continueRegistration(client, m2In, {
      trust: o.trust ?? { allowTofu: true },
      clientKey: generateSigningKey(),
      details: o.verifyOnly ? { ...DETAILS, verifyOnly: true } : DETAILS,
    });
  } catch (error) {
    return { ok: false, failedAt: 'client-m2', error };
  }
  if (step.kind === 'abort')
    return { ok: false, failedAt: 'client-m2', error: step.error, abort: true };
  let m3: M3, m4: M4, secretId: string | null;
  try {
    m3 = hop(step.m3, o.tamper?.m3, parseM3);
    const accepted = answerFinish(table.take(m3.hsId, now), m3, o.identity);
    secretId = accepted.secretId;
    m4 = o.verifyOnly
      ? accepted.respondVerified()
      : accepted.respond({ clientId: 'c_test', registeredAt: new Date(now).toISOString() });
  } catch (error) {
    return { ok: false, failedAt: 'server-m3', error };
  }
  try {
    const m4In = hop(m4, o.tamper?.m4, parseM4);
    const result = finishRegistration(step.pending, m4In);
    return { ok: true, result, secretId, m: { m1, m2, m3, m4 } };
  } catch (error) {
    return { ok: false, failedAt: 'client-m4', error };
  }
}

function startRegistrationFor(o: ExchangeOptions): ReturnType<typeof startRegistration> {
  return startRegistration(
    o.clientPrs
      ? { serverId: o.identity.serverId, prs: o.clientPrs }
      : { serverId: o.identity.serverId },
  );
}
