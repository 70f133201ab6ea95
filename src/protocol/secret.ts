import { randomInt, scrypt } from 'node:crypto';
import { inspect } from 'node:util';
import { ProtocolError } from './errors.ts';

const REDACTED = '[redacted]';

/**
 * A value that must never be printed: toString, JSON and util.inspect all
 * show a placeholder. Only `use()` hands out the bytes.
 */
abstract class Sensitive {
  readonly #bytes: Buffer;

  protected constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** The raw bytes, for the one place that needs them. */
  use(): Buffer {
    return this.#bytes;
  }

  /** Overwrites the bytes in memory; the value is unusable afterwards. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${REDACTED}`;
  }
}

/** An authorization secret as typed: UTF-8 of its NFC normalization. */
export class Secret extends Sensitive {
  private constructor(bytes: Buffer) {
    super(bytes);
  }

  /**
   * Prepares a secret. Text from a file or stdin loses one trailing `\n` or
   * `\r\n` and nothing else; the result is NFC-normalized.
   */
  static from(text: string, options: { fromFile?: boolean } = {}): Secret {
    let value = text;
    if (options.fromFile) {
      if (value.endsWith('\r\n')) value = value.slice(0, -2);
      else if (value.endsWith('\n')) value = value.slice(0, -1);
    }
    if (value.length === 0) throw new ProtocolError('bad_request', 'the secret is empty');
    return new Secret(Buffer.from(value.normalize('NFC'), 'utf8'));
  }

  /** Number of characters (code points), for strength checks. */
  get length(): number {
    return [...this.use().toString('utf8')].length;
  }
}

/** The password-related string PRS derived from a secret. */
export class Prs extends Sensitive {
  private constructor(bytes: Buffer) {
    super(bytes);
  }

  /** Wraps 32 stored PRS bytes. */
  static fromBytes(bytes: Uint8Array): Prs {
    if (bytes.length !== 32) throw new ProtocolError('bad_request', 'a PRS is 32 bytes');
    return new Prs(Buffer.from(bytes));
  }
}

/** Key derivation parameters that the server advertises in hello. */
export interface KdfParams {
  readonly name: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP's scrypt recommendation. */
export const DEFAULT_KDF: KdfParams = { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 };

const MAX_KDF_MEMORY = 256 * 1024 * 1024;

function kdfMemory(kdf: KdfParams): number {
  return 128 * kdf.N * kdf.r;
}

/**
 * Refuses parameters that are too weak to resist guessing, or too heavy for
 * an endpoint: N outside 2^14..2^20, N not a power of two, or more than
 * 256 MiB of memory.
 */
/** The most parallel lanes the client accepts. */
export const MAX_KDF_P = 4;
/** The most work (N*r*p) the client accepts: four times the default N=2^17, r=8, p=1. */
export const MAX_KDF_WORK = 2 ** 22;

export function validateKdf(kdf: KdfParams): void {
  const isPow2 = Number.isInteger(Math.log2(kdf.N));
  if (kdf.name !== 'scrypt' || !isPow2 || kdf.N < 2 ** 14 || kdf.N > 2 ** 20) {
    throw new ProtocolError(
      'weak_kdf',
      `refusing scrypt N=${kdf.N}: it must be a power of two from 2^14 to 2^20`,
    );
  }
  if (
    !Number.isInteger(kdf.r) ||
    !Number.isInteger(kdf.p) ||
    kdf.r < 1 ||
    kdf.p < 1 ||
    kdf.r > 32 ||
    kdf.p > MAX_KDF_P ||
    kdfMemory(kdf) > MAX_KDF_MEMORY
  ) {
    throw new ProtocolError(
      'weak_kdf',
      `refusing scrypt r=${kdf.r} p=${kdf.p}: r must be 1 to 32, p 1 to ${MAX_KDF_P}, memory at most 256 MiB`,
    );
  }
  if (kdf.N * kdf.r * kdf.p > MAX_KDF_WORK) {
    // p multiplies the time without the memory: a server that answers hello must not make the client burn unbounded CPU.
    throw new ProtocolError(
      'weak_kdf',
      `refusing scrypt N=${kdf.N} r=${kdf.r} p=${kdf.p}: N*r*p is over 2^22 (about four times the default work)`,
    );
  }
}

const PRS_SALT_PREFIX = Buffer.from('cb1/prs', 'utf8');

/** PRS = scrypt(secret, "cb1/prs" || serverId, N, r, p, 32). */
export async function derivePrs(
  secret: Secret,
  serverId: Uint8Array,
  kdf: KdfParams,
): Promise<Prs> {
  validateKdf(kdf);
  const salt = Buffer.concat([PRS_SALT_PREFIX, serverId]);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    scrypt(
      secret.use(),
      salt,
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: MAX_KDF_MEMORY + 1024 * 1024 },
      (err, key) =>
        err ? reject(new ProtocolError('weak_kdf', 'scrypt failed', { cause: err })) : resolve(key),
    );
  });
  return Prs.fromBytes(bytes);
}

/** What a secret lacks to be strong; empty when it is strong. */
export function secretWeaknesses(secret: Secret): string[] {
  const text = secret.use().toString('utf8');
  const missing: string[] = [];
  if (secret.length < 10) missing.push('at least 10 characters');
  if (!/\p{Nd}/u.test(text)) missing.push('a digit');
  if (!/\p{Lu}/u.test(text)) missing.push('an uppercase letter');
  if (!/\p{Ll}/u.test(text)) missing.push('a lowercase letter');
  return missing;
}

const GEN_LOWER = 'abcdefghijkmnopqrstuvwxyz';
const GEN_UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const GEN_DIGIT = '23456789';
const GEN_ALL = GEN_LOWER + GEN_UPPER + GEN_DIGIT;

/**
 * A strong random secret of 24 characters (about 140 bits), easy to read
 * aloud (no 0/O, 1/l/I), always with each required character class.
 */
export function generateSecretText(length = 24): string {
  for (;;) {
    let out = '';
    for (let i = 0; i < length; i++) out += GEN_ALL[randomInt(GEN_ALL.length)];
    if (/[a-z]/.test(out) && /[A-Z]/.test(out) && /[0-9]/.test(out)) return out;
  }
}
