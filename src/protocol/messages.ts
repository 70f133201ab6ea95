/**
 * The wire messages of protocol version 1 and their strict parsers. Parsers
 * take decoded JSON (`unknown`) and return typed messages, or throw a
 * ProtocolError with a stable code.
 */
import { ProtocolError } from './errors.ts';
import type { KdfParams } from './secret.ts';
import {
  b64Field,
  b64FieldBetween,
  boolField,
  enumField,
  expectShape,
  expectVersion,
  intField,
  stringField,
} from './schema.ts';

export const PROTOCOL_VERSION = 1;
/** At most this many secrets are active, so M2 carries at most 16 shares. */
export const MAX_SHARES = 16;
/** Largest encrypted payload accepted in M3 or M4, in bytes. */
export const MAX_CIPHERTEXT = 4096;

export type SeenAs = 'intranet' | 'internet';
export const SEEN_AS: readonly SeenAs[] = ['intranet', 'internet'];

export interface Hello {
  readonly v: 1;
  readonly serverId: string;
  readonly serverKey: string;
  readonly seenAs: SeenAs;
  readonly secretRequired: boolean;
  readonly kdf: KdfParams;
  readonly time: number;
  readonly sig: string;
}

export interface M1 {
  readonly v: 1;
  readonly serverId: string;
  readonly sid: string;
  readonly cEph: string;
  readonly Ya?: string;
}

export interface Share {
  readonly Yb: string;
  readonly tagB: string;
}

export interface M2 {
  readonly v: 1;
  readonly hsId: string;
  readonly serverKey: string;
  readonly sEph: string;
  readonly seenAs: SeenAs;
  readonly secretRequired: boolean;
  readonly shares: readonly Share[];
  readonly sig: string;
}

export interface M3 {
  readonly v: 1;
  readonly hsId: string;
  readonly share?: number;
  readonly tagA: string;
  readonly iv: string;
  readonly ct: string;
}

export interface Abort {
  readonly v: 1;
  readonly hsId: string;
  readonly abort: 'no-matching-share';
}

export interface M4 {
  readonly v: 1;
  readonly iv: string;
  readonly ct: string;
}

/** The client's registration details, encrypted inside M3. */
export interface ClientDetails {
  readonly clientKey: string;
  readonly pop: string;
  readonly machineId: string;
  readonly hostname: string;
  readonly os: string;
  readonly arch: string;
  readonly agentVersion: string;
  readonly installId: string;
  readonly verifyOnly?: boolean;
}

/** What the server returns inside M4. */
export type ServerResult =
  | {
      readonly kind: 'registered';
      readonly clientId: string;
      readonly serverId: string;
      readonly registeredAt: string;
      readonly credential: string;
    }
  | { readonly kind: 'verified'; readonly serverId: string };

/** The error body every endpoint returns on failure. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export function parseKdf(value: unknown): KdfParams {
  const o = expectShape(value, 'kdf', ['name', 'N', 'r', 'p']);
  return {
    name: enumField(o, 'name', 'kdf', ['scrypt'] as const),
    N: intField(o, 'N', 'kdf', 2, 2 ** 30),
    r: intField(o, 'r', 'kdf', 1, 1024),
    p: intField(o, 'p', 'kdf', 1, 1024),
  };
}

export function parseHello(value: unknown): Hello {
  const o = expectShape(value, 'hello', [
    'v',
    'serverId',
    'serverKey',
    'seenAs',
    'secretRequired',
    'kdf',
    'time',
    'sig',
  ]);
  return {
    v: expectVersion(o, 'hello'),
    serverId: b64Field(o, 'serverId', 'hello', 16),
    serverKey: b64Field(o, 'serverKey', 'hello', 32),
    seenAs: enumField(o, 'seenAs', 'hello', SEEN_AS),
    secretRequired: boolField(o, 'secretRequired', 'hello'),
    kdf: parseKdf(o.kdf),
    time: intField(o, 'time', 'hello', 0, Number.MAX_SAFE_INTEGER),
    sig: b64Field(o, 'sig', 'hello', 64),
  };
}

export function parseM1(value: unknown): M1 {
  const o = expectShape(value, 'M1', ['v', 'serverId', 'sid', 'cEph'], ['Ya']);
  const base = {
    v: expectVersion(o, 'M1'),
    serverId: b64Field(o, 'serverId', 'M1', 16),
    sid: b64Field(o, 'sid', 'M1', 16),
    cEph: b64Field(o, 'cEph', 'M1', 32),
  };
  return o.Ya === undefined ? base : { ...base, Ya: b64Field(o, 'Ya', 'M1', 32) };
}

function parseShare(value: unknown, index: number): Share {
  const what = `M2.shares[${index}]`;
  const o = expectShape(value, what, ['Yb', 'tagB']);
  return { Yb: b64Field(o, 'Yb', what, 32), tagB: b64Field(o, 'tagB', what, 32) };
}

export function parseM2(value: unknown): M2 {
  const o = expectShape(value, 'M2', [
    'v',
    'hsId',
    'serverKey',
    'sEph',
    'seenAs',
    'secretRequired',
    'shares',
    'sig',
  ]);
  const v = expectVersion(o, 'M2');
  if (!Array.isArray(o.shares))
    throw new ProtocolError('bad_request', 'M2.shares must be an array');
  if (o.shares.length > MAX_SHARES) {
    throw new ProtocolError(
      'too_many_shares',
      `M2 carries ${o.shares.length} shares; at most ${MAX_SHARES} are allowed`,
    );
  }
  const m2: M2 = {
    v,
    hsId: b64Field(o, 'hsId', 'M2', 16),
    serverKey: b64Field(o, 'serverKey', 'M2', 32),
    sEph: b64Field(o, 'sEph', 'M2', 32),
    seenAs: enumField(o, 'seenAs', 'M2', SEEN_AS),
    secretRequired: boolField(o, 'secretRequired', 'M2'),
    shares: (o.shares as unknown[]).map(parseShare),
    sig: b64Field(o, 'sig', 'M2', 64),
  };
  return m2;
}

export function parseM3(value: unknown): M3 {
  const o = expectShape(value, 'M3', ['v', 'hsId', 'tagA', 'iv', 'ct'], ['share']);
  const base = {
    v: expectVersion(o, 'M3'),
    hsId: b64Field(o, 'hsId', 'M3', 16),
    tagA: b64Field(o, 'tagA', 'M3', 32),
    iv: b64Field(o, 'iv', 'M3', 12),
    ct: b64FieldBetween(o, 'ct', 'M3', 17, MAX_CIPHERTEXT),
  };
  return o.share === undefined
    ? base
    : { ...base, share: intField(o, 'share', 'M3', 0, MAX_SHARES - 1) };
}

export function parseAbort(value: unknown): Abort {
  const o = expectShape(value, 'abort', ['v', 'hsId', 'abort']);
  return {
    v: expectVersion(o, 'abort'),
    hsId: b64Field(o, 'hsId', 'abort', 16),
    abort: enumField(o, 'abort', 'abort', ['no-matching-share'] as const),
  };
}

/** True when a finish request body is an abort rather than an M3. */
export function isAbortBody(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, 'abort');
}

export function parseM4(value: unknown): M4 {
  const o = expectShape(value, 'M4', ['v', 'iv', 'ct']);
  return {
    v: expectVersion(o, 'M4'),
    iv: b64Field(o, 'iv', 'M4', 12),
    ct: b64FieldBetween(o, 'ct', 'M4', 17, MAX_CIPHERTEXT),
  };
}

export function parseClientDetails(value: unknown): ClientDetails {
  const what = 'registration';
  const o = expectShape(
    value,
    what,
    ['clientKey', 'pop', 'machineId', 'hostname', 'os', 'arch', 'agentVersion', 'installId'],
    ['verifyOnly'],
  );
  const details: ClientDetails = {
    clientKey: b64Field(o, 'clientKey', what, 32),
    pop: b64Field(o, 'pop', what, 64),
    machineId: stringField(o, 'machineId', what, 128, 1),
    hostname: stringField(o, 'hostname', what, 255),
    os: stringField(o, 'os', what, 64),
    arch: stringField(o, 'arch', what, 32),
    agentVersion: stringField(o, 'agentVersion', what, 64),
    installId: stringField(o, 'installId', what, 128),
  };
  return o.verifyOnly === undefined
    ? details
    : { ...details, verifyOnly: boolField(o, 'verifyOnly', what) };
}

export function parseServerResult(value: unknown): ServerResult {
  const what = 'M4 payload';
  const kind = expectShape(
    value,
    what,
    ['kind'],
    ['clientId', 'serverId', 'registeredAt', 'credential', 'verified'],
  ).kind;
  if (kind === 'verified') {
    const o = expectShape(value, what, ['kind', 'serverId']);
    return { kind, serverId: b64Field(o, 'serverId', what, 16) };
  }
  if (kind !== 'registered') throw new ProtocolError('bad_request', `${what}.kind is unknown`);
  const o = expectShape(value, what, [
    'kind',
    'clientId',
    'serverId',
    'registeredAt',
    'credential',
  ]);
  return {
    kind,
    clientId: stringField(o, 'clientId', what, 64, 1),
    serverId: b64Field(o, 'serverId', what, 16),
    registeredAt: stringField(o, 'registeredAt', what, 40, 1),
    credential: b64Field(o, 'credential', what, 64),
  };
}

/** Parses a `{error: {code, message}}` body, or returns null if it is not one. */
export function parseErrorBody(value: unknown): ErrorBody['error'] | null {
  if (typeof value !== 'object' || value === null) return null;
  const err = (value as { error?: unknown }).error;
  if (typeof err !== 'object' || err === null) return null;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return null;
  return { code: code.slice(0, 64), message: message.slice(0, 500) };
}
