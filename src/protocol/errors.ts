/**
 * Stable codes for every expected protocol failure. Callers map them to exit
 * codes (agent) or HTTP statuses (server); the messages never carry secrets.
 */
export type ProtocolErrorCode =
  | 'bad_request'
  | 'unsupported_version'
  | 'wrong_server'
  | 'secret_required'
  | 'invalid_secret'
  | 'no_active_secrets'
  | 'handshake_expired'
  | 'handshake_unknown'
  | 'too_many_shares'
  | 'pin_mismatch'
  | 'bad_signature'
  | 'server_unauthenticated'
  | 'bad_credential'
  | 'bad_proof'
  | 'decrypt_failed'
  | 'weak_kdf'
  | 'weak_secret'
  | 'low_order_point';

/** An expected failure of the protocol, with a stable `code`. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is a ProtocolError, optionally with the given code. */
export function isProtocolError(err: unknown, code?: ProtocolErrorCode): err is ProtocolError {
  return err instanceof ProtocolError && (code === undefined || err.code === code);
}
