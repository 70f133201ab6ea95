import { ProtocolError } from './errors.ts';

const B64URL = /^[A-Za-z0-9_-]*$/;

/** base64url without padding. */
export function toB64u(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Strict base64url decoding: alphabet only, no padding, and the canonical
 * encoding of the result must equal the input (no stray trailing bits), so
 * every value has exactly one spelling on the wire.
 */
export function fromB64u(text: string, field: string, length?: number): Buffer {
  if (typeof text !== 'string' || !B64URL.test(text) || text.length % 4 === 1) {
    throw new ProtocolError('bad_request', `${field} is not valid base64url`);
  }
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) {
    throw new ProtocolError('bad_request', `${field} is not canonical base64url`);
  }
  if (length !== undefined && bytes.length !== length) {
    throw new ProtocolError('bad_request', `${field} must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/**
 * CPace prepend_len: LEB128 length followed by the data (draft-irtf-cfrg-cpace
 * appendix A).
 */
export function prependLen(data: Uint8Array): Buffer {
  const prefix: number[] = [];
  let len = data.length;
  do {
    let byte = len & 0x7f;
    len >>>= 7;
    if (len > 0) byte |= 0x80;
    prefix.push(byte);
  } while (len > 0);
  return Buffer.concat([Buffer.from(prefix), data]);
}

/** Anything lv_cat accepts: bytes, or text taken as UTF-8. */
export type LvPart = Uint8Array | string;

function asBytes(part: LvPart): Uint8Array {
  return typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
}

/** CPace lv_cat: the concatenation of prepend_len of each part. */
export function lvCat(...parts: LvPart[]): Buffer {
  return Buffer.concat(parts.map((p) => prependLen(asBytes(p))));
}

/** A JSON value limited to what the wire uses: no floats, no undefined. */
export type CanonicalValue =
  | string
  | number
  | boolean
  | null
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue };

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, integers
 * only. Signatures and transcripts cover this encoding, so re-serialising a
 * parsed message gives the same bytes on both sides.
 */
export function canonicalJson(value: CanonicalValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new ProtocolError('bad_request', 'only safe integers can be encoded');
    }
    return String(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v: CanonicalValue) => canonicalJson(v)).join(',')}]`;
  }
  const obj = value as { readonly [key: string]: CanonicalValue };
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k] as CanonicalValue)}`).join(',')}}`;
}

/** Canonical JSON as UTF-8 bytes. */
export function canonicalBytes(value: CanonicalValue): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
