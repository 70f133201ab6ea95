/**
 * The stable exit codes and the one table that maps failure codes to them.
 * Deployment tools read nothing else, so these never change meaning.
 */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  secretMissing: 3,
  secretRejected: 4,
  noRoute: 5,
  serverUnauthenticated: 6,
  refused: 7,
  busy: 8,
  state: 9,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const TABLE: Record<string, ExitCode> = {
  usage: EXIT.usage,
  config: EXIT.usage,
  registered_elsewhere: EXIT.usage,
  secret_missing: EXIT.secretMissing,
  invalid_secret: EXIT.secretRejected,
  no_route: EXIT.noRoute,
  pin_mismatch: EXIT.serverUnauthenticated,
  bad_signature: EXIT.serverUnauthenticated,
  server_unauthenticated: EXIT.serverUnauthenticated,
  wrong_server: EXIT.serverUnauthenticated,
  bad_credential: EXIT.serverUnauthenticated,
  tls: EXIT.serverUnauthenticated,
  unpinned_relay: EXIT.serverUnauthenticated,
  weak_kdf: EXIT.serverUnauthenticated,
  busy: EXIT.busy,
  rate_limited: EXIT.busy,
  // A full disk clears with time (log rotation, cleanup): retry later, like a busy server.
  disk_full: EXIT.busy,
  state: EXIT.state,
  corrupt_state: EXIT.state,
  state_untrusted: EXIT.state,
  locked: EXIT.state,
  internal: EXIT.internal,
};

/** The exit code for a failure code; any other server refusal is 7. */
export function exitCodeFor(code: string): ExitCode {
  return TABLE[code] ?? EXIT.refused;
}

/** What a deployment tool should do with each exit code (for the README and --help). */
export const EXIT_MEANINGS: readonly [ExitCode, string, string][] = [
  [0, 'registered, or already registered to this server', 'succeed'],
  [1, 'internal error (a bug; the message says where the log is)', 'fail'],
  [2, 'usage or configuration error', 'fail'],
  [3, 'a secret is required and none was given (non-interactive)', 'fail'],
  [4, 'the secret was not accepted', 'fail'],
  [5, 'no route: neither the server nor the relay could be reached', 'retry later'],
  [
    6,
    'the server could not be authenticated (pin mismatch, bad signature, TLS trust)',
    'fail, alert',
  ],
  [7, 'the server refused the registration for another reason', 'fail'],
  [
    8,
    'the server is busy or rate-limiting and the deadline ran out, or the local disk is full',
    'retry later',
  ],
  [9, 'local state error (state directory not writable, corrupt state)', 'fail'],
];
