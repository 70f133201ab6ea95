/**
 * Tiny strict validators for wire messages: every check throws a
 * ProtocolError('bad_request') naming the field, never echoing its value.
 */
import { fromB64u } from './encoding.ts';
import { ProtocolError } from './errors.ts';

export type Json = Record<string, unknown>;

/** Parses JSON text, mapping syntax errors to bad_request. */
export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProtocolError('bad_request', `${what} is not valid JSON`, { cause: err });
  }
}

/**
 * Checks that `value` is a plain object with exactly the required fields and
 * at most the optional ones.
 */
export function expectShape(
  value: unknown,
  what: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('bad_request', `${what} must be a JSON object`);
  }
  const obj = value as Json;
  // An unknown version is reported as such, whatever else the message lacks.
  if (required.includes('v') && Object.hasOwn(obj, 'v') && obj.v !== 1) {
    throw new ProtocolError('unsupported_version', `${what} uses an unsupported protocol version`);
  }
  for (const key of required) {
    if (!Object.hasOwn(obj, key)) throw new ProtocolError('bad_request', `${what} lacks ${key}`);
  }
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new ProtocolError(
        'bad_request',
        `${what} has an unexpected field ${JSON.stringify(key.slice(0, 40))}`,
      );
    }
  }
  return obj;
}

/** Requires protocol version 1. */
export function expectVersion(obj: Json, what: string): 1 {
  if (obj.v !== 1) {
    throw new ProtocolError('unsupported_version', `${what} uses an unsupported protocol version`);
  }
  return 1;
}

/** A base64url field, optionally of an exact decoded length. */
export function b64Field(obj: Json, key: string, what: string, length?: number): string {
  const value = obj[key];
  if (typeof value !== 'string')
    throw new ProtocolError('bad_request', `${what}.${key} must be a string`);
  fromB64u(value, `${what}.${key}`, length);
  return value;
}

/** A base64url field whose decoded length lies within bounds. */
export function b64FieldBetween(
  obj: Json,
  key: string,
  what: string,
  min: number,
  max: number,
): string {
  const bytes = fromB64u(stringField(obj, key, what, Math.ceil((max * 4) / 3)), `${what}.${key}`);
  if (bytes.length < min || bytes.length > max) {
    throw new ProtocolError('bad_request', `${what}.${key} must be ${min} to ${max} bytes`);
  }
  return obj[key] as string;
}

/** A string field of bounded length. */
export function stringField(
  obj: Json,
  key: string,
  what: string,
  maxLength: number,
  minLength = 0,
): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length > maxLength || value.length < minLength) {
    throw new ProtocolError(
      'bad_request',
      `${what}.${key} must be a string of ${minLength} to ${maxLength} characters`,
    );
  }
  return value;
}

/** A boolean field. */
export function boolField(obj: Json, key: string, what: string): boolean {
  const value = obj[key];
  if (typeof value !== 'boolean')
    throw new ProtocolError('bad_request', `${what}.${key} must be true or false`);
  return value;
}

/** An integer field within bounds. */
export function intField(obj: Json, key: string, what: string, min: number, max: number): number {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ProtocolError(
      'bad_request',
      `${what}.${key} must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/** A field limited to a set of string values. */
export function enumField<T extends string>(
  obj: Json,
  key: string,
  what: string,
  allowed: readonly T[],
): T {
  const value = obj[key];
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ProtocolError('bad_request', `${what}.${key} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
