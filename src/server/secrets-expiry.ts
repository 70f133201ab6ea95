/**
 * Limits on a secret's life: when it expires (`--expires 30d`, `12h`,
 * `90m` or an ISO date) and how many new clients it may register
 * (`--max-uses N`). Pure parsing, shared by the command line, the API and
 * the page's requests.
 */
import { UserError } from '../common/errors.ts';
import type { SecretRow } from './store.ts';
import type { AuthMode } from './store-rows.ts';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The farthest expiry accepted: ten years. */
const MAX_MS = 3653 * 86_400_000;

/**
 * The expiry time (ISO) of `text` at `now`: a duration (`30d`, `12h`,
 * `90m`) or a date (`2027-01-31`, `2027-01-31T18:00:00Z`) in the future.
 */
export function parseExpiry(text: string, now: Date): string {
  const value = text.trim();
  const bad = (why: string): UserError =>
    new UserError('bad_expiry', `--expires ${JSON.stringify(value.slice(0, 40))} ${why}`, {
      hint: 'give a duration such as 30d, 12h or 90m, or a date such as 2027-01-31',
    });
  const duration = /^(\d{1,7})([mhd])$/.exec(value);
  let at: number;
  if (duration) {
    const n = Number(duration[1]);
    if (n <= 0) throw bad('must be more than 0');
    at = now.getTime() + n * (UNIT_MS[duration[2] as string] as number);
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    at = Date.parse(value);
    if (Number.isNaN(at)) throw bad('is not a valid date');
  } else {
    throw bad('is neither a duration nor a date');
  }
  if (at <= now.getTime()) throw bad('is already past');
  if (at - now.getTime() > MAX_MS) throw bad('is more than ten years away');
  return new Date(at).toISOString();
}

/** A use limit: a whole number from 1 to 1,000,000. */
export function parseMaxUses(value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000)
    throw new UserError('bad_max_uses', '--max-uses must be a whole number from 1 to 1000000', {
      hint: 'it counts registrations of new clients made with the secret',
    });
  return n;
}

/**
 * The warning an administrator needs when nobody can register: the mode
 * asks for a secret and no secret is active (none, or all expired or used up).
 */
export function noSecretWarning(mode: AuthMode, secrets: readonly SecretRow[]): string | null {
  if (mode === 'none' || secrets.some((s) => s.state === 'active')) return null;
  const who = mode === 'all' ? 'nobody' : 'no internet client';
  const why =
    secrets.length === 0 ? 'none is active' : 'none is active (they are expired or used up)';
  return `${who} can register: the mode "${mode}" needs a secret and ${why}; add one with: bootstrap-server auth secret add --generate (or on the admin page), or choose another mode with: bootstrap-server auth mode`;
}

/** A secret's limits in words, for tables: "expires 2027-01-31T…, 3 of 10 uses". */
export function describeLimits(s: SecretRow): string {
  const parts: string[] = [];
  if (s.state !== 'active') parts.push(s.state === 'expired' ? 'EXPIRED' : 'USED UP');
  if (s.expiresAt) parts.push(`expires ${s.expiresAt}`);
  if (s.maxUses !== null) parts.push(`${s.useCount} of ${s.maxUses} uses`);
  return parts.join(', ');
}

/** The limits in an admin API body: `expires` (a duration or a date) and `maxUses`, both optional. */
export function limitsFromBody(
  body: { expires?: unknown; maxUses?: unknown },
  now: Date,
): { expiresAt?: string; maxUses?: number } {
  const { expires, maxUses } = body;
  if (expires !== undefined && expires !== null && expires !== '' && typeof expires !== 'string')
    throw new UserError('bad_expiry', 'expires must be text: a duration such as 30d, or a date');
  return {
    ...(typeof expires === 'string' && expires.trim() !== ''
      ? { expiresAt: parseExpiry(expires, now) }
      : {}),
    ...(maxUses === undefined || maxUses === null || maxUses === ''
      ? {}
      : { maxUses: parseMaxUses(maxUses) }),
  };
}
