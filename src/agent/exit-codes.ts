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
  /** Stopped by Ctrl-C (SIGINT): 128 + 2, as shells report it. */
  interrupted: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const TABLE: Record<string, ExitCode> = {
  usage: EXIT.usage,
  config: EXIT.usage,
  // The URL's scheme does not match what the server speaks: fix the URL.
  wrong_scheme: EXIT.usage,
  // The proxy wants (other) credentials: fix the configuration.
  proxy_auth: EXIT.usage,
  proxy_refused: EXIT.usage,
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
  tls_clock: EXIT.serverUnauthenticated,
  tls_name: EXIT.serverUnauthenticated,
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
  interrupted: EXIT.interrupted,
  terminated: EXIT.terminated,
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
  [130, 'interrupted (Ctrl-C); nothing half-written', 'retry'],
  [143, 'stopped (SIGTERM); nothing half-written', 'retry'],
];

/** What to do, for a failure whose own error gave no hint: every failure gets one. */
const DEFAULT_HINTS: Record<number, string> = {
  [EXIT.internal]: 'this is a bug: report it with the log file',
  [EXIT.usage]: 'see client-bootstrap --help',
  [EXIT.secretMissing]: 'give the secret with --secret-file PATH or CLIENT_BOOTSTRAP_SECRET',
  [EXIT.secretRejected]:
    'check the secret with the administrator (bootstrap-server auth secret list)',
  [EXIT.noRoute]: 'check the network, the URLs and any proxy; a deployment tool should retry later',
  [EXIT.serverUnauthenticated]:
    'check --server-pin and --server-id against bootstrap-server client-config, and TLS trust (--ca-file, --ca-system)',
  [EXIT.refused]: 'ask the server administrator; the message says why the server refused',
  [EXIT.busy]: 'retry later; a deployment tool should retry this exit code',
  [EXIT.state]: 'check the state directory (--state-dir): its owner, permissions and free space',
  [EXIT.interrupted]: 'run it again; nothing was half-written',
  [EXIT.terminated]: 'run it again; nothing was half-written',
};

/** The hint for an exit code when the failure itself has none. */
export function defaultHint(exitCode: number): string {
  return DEFAULT_HINTS[exitCode] ?? 'see client-bootstrap --help';
}
