/** The admin page's model: types of the admin API, the API call, and the password rule. */
export type Mode = 'none' | 'internet' | 'all';

export interface SecretRow {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  useCount: number;
  weak: boolean;
  expiresAt: string | null;
  maxUses: number | null;
  state: 'active' | 'expired' | 'used_up';
}

/** The relay tunnel as the running server sees it. */
export type TunnelState =
  | { state: 'not-configured' }
  | { state: 'connecting' }
  | { state: 'connected'; since: string }
  | { state: 'refused'; reason: string; since: string }
  | { state: 'down'; reason: string; since: string };

export interface Settings {
  serverId: string;
  pin: string;
  mode: Mode;
  secrets: SecretRow[];
  maxSecrets: number;
  clients: { total: number; active: number };
  guessAlarm: {
    active: boolean;
    raisedAt: string;
    clearedAt?: string;
    failedLastHour: number;
    threshold: number;
  } | null;
  /** Set when the mode needs a secret and none is active. */
  warning: string | null;
  tunnel: TunnelState;
}

export interface ClientRow {
  clientId: string;
  hostname: string;
  route: string;
  seenAs: string;
  registeredAt: string;
  supersededBy: string | null;
}

export interface AuditRow {
  id: number;
  time: string;
  route?: string;
  source?: string;
  outcome: string;
  reason?: string;
  secretId: string | null;
  /** Occurrences merged into this row (repeated refusals from one source). */
  count: number;
}

export interface PendingAdd {
  key: number;
  secret: string;
  label: string;
  allowWeak: boolean;
  /** A duration (30d, 12h, 90m) or a date; empty for none. */
  expires: string;
  /** New clients it may register; empty for no limit. */
  maxUses: string;
}

export const MODES: { value: Mode; name: string; help: string }[] = [
  {
    value: 'none',
    name: 'No Authorization',
    help: 'Any client may register; no secret is asked for.',
  },
  {
    value: 'internet',
    name: 'Enable Internet Clients',
    help: 'Clients that come from the internet (through the cloud relay, or from outside the intranet) need an Auth Secret.',
  },
  {
    value: 'all',
    name: 'Enable All Clients',
    help: 'Every client needs an Auth Secret, on the intranet too.',
  },
];

/** The audit's reason codes in plain words, for the attempts table: one table. */
export const REASONS: Record<string, string> = {
  'no-matching-share': 'wrong or removed secret',
  unfinished: 'started but never finished (wrong secret, or the agent gave up)',
  secret_required: 'no secret given, and this mode needs one',
  invalid_secret: 'wrong secret',
  bad_proof: 'wrong secret (its proof failed)',
  no_active_secrets: 'no secret is active on this server',
  secret_revoked: 'secret removed during the registration',
  expired: 'secret expired',
  used_up: 'secret used up (its limit of new clients reached)',
  handshake_unknown: 'took too long or was repeated; the agent starts again',
  handshake_expired: 'took too long; the agent starts again',
  blocked: 'too many failed attempts from this network; held back for a while',
  guess_limit: 'too many guesses of the secret from this network',
  start_rate: 'too many attempts from this network; asked to wait',
  open_limit: 'too many registrations at once from this address',
  network_limit: 'too many registrations at once from this network',
  busy: 'the server was busy; asked to retry',
  wrong_server: 'meant for another server',
  bad_request: 'a malformed request (not an agent of this version?)',
  unsupported_version: 'an agent of another protocol version',
  decrypt_failed: 'a damaged or tampered message',
  low_order_point: 'a tampered message',
  bad_signature: 'a signature that does not match',
  unknown_client: 'a client this server does not know',
  stale_request: "the agent's clock is off by more than 10 minutes",
  rate_limited: 'too many requests; asked to wait',
};

/** The plain words for a reason code (the code itself when there are none). */
export const reasonText = (code: string | undefined): string =>
  code ? (REASONS[code] ?? code) : '';

export const TOKEN_KEY = 'client-bootstrap-admin-token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`/admin/v1/${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    cache: 'no-store',
    credentials: 'omit',
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok)
    throw new ApiError(res.status, data.error?.message ?? `the server answered ${res.status}`);
  return data as T;
}

/** The password rule, as the server applies it. */
export function ruleChecks(secret: string): { text: string; ok: boolean }[] {
  return [
    { text: 'at least 10 characters', ok: [...secret].length >= 10 },
    { text: 'a digit', ok: /\p{Nd}/u.test(secret) },
    { text: 'an uppercase letter', ok: /\p{Lu}/u.test(secret) },
    { text: 'a lowercase letter', ok: /\p{Ll}/u.test(secret) },
  ];
}

const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** 24 characters without look-alikes, always meeting the rule (as the server generates). */
export function generateSecret(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint32Array(24));
    const text = Array.from(bytes, (n) => ALPHABET[n % ALPHABET.length]).join('');
    if (ruleChecks(text).every((c) => c.ok)) return text;
  }
}

export const when = (iso: string | null): string =>
  iso ? new Date(iso).toLocaleString() : 'never';

/** A secret's state and limits in words. */
export function limitsText(s: SecretRow): string {
  const parts: string[] = [];
  if (s.state === 'expired') parts.push('expired');
  if (s.state === 'used_up') parts.push('used up');
  if (s.expiresAt) parts.push(`${s.state === 'expired' ? 'on' : 'expires'} ${when(s.expiresAt)}`);
  if (s.maxUses !== null) parts.push(`${s.useCount} of ${s.maxUses} new clients`);
  return parts.join(', ') || 'none';
}

export function readInitialToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (m?.[1]) {
    const token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    // Drop the token from the address bar and history.
    history.replaceState(null, '', window.location.pathname);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
