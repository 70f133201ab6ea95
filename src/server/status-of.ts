/** The server's error codes and their HTTP statuses. */

/** The one table from error codes to HTTP statuses: registration and the signed unregister. */
export const STATUS_OF: Record<string, number> = {
  bad_request: 400,
  unsupported_version: 400,
  decrypt_failed: 400,
  low_order_point: 400,
  wrong_server: 404,
  secret_required: 401,
  invalid_secret: 403,
  bad_proof: 403,
  no_active_secrets: 403,
  secret_revoked: 403,
  too_many_shares: 500,
  handshake_expired: 409,
  handshake_unknown: 409,
  rate_limited: 429,
  busy: 503,
  store_unavailable: 503,
  unknown_client: 404,
  stale_request: 400,
  bad_signature: 403,
};
