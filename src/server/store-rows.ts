/**
 * What both stores (SQLite and PostgreSQL) hold and return: the auth modes,
 * client and audit rows, audit retention, and the mapping of their shared
 * columns to rows.
 */

export type AuthMode = 'none' | 'internet' | 'all';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'internet', 'all'];

export interface ClientRow {
  readonly clientId: string;
  readonly keyFingerprint: string;
  readonly machineId: string;
  readonly hostname: string;
  readonly os: string;
  readonly arch: string;
  readonly agentVersion: string;
  readonly installId: string;
  readonly route: string;
  readonly seenAs: string;
  readonly secretId: string | null;
  readonly registeredAt: string;
  readonly supersededBy: string | null;
}

export interface AuditEntry {
  readonly event: string;
  readonly route?: string;
  readonly source?: string;
  readonly outcome: string;
  readonly reason?: string;
  readonly secretId?: string | null;
  readonly clientId?: string | null;
  readonly keyFingerprint?: string | null;
}

export interface AuditRow extends AuditEntry {
  readonly id: number;
  /** The last occurrence. */
  readonly time: string;
  /** Occurrences merged into this row (repeated refusals from one source). */
  readonly count: number;
  /** The first occurrence. */
  readonly firstTime: string;
}

/** How long the audit keeps rows, and how many. */
export interface AuditRetention {
  readonly maxRows: number;
  readonly maxAgeDays: number;
}

export const DEFAULT_AUDIT_RETENTION: AuditRetention = { maxRows: 100_000, maxAgeDays: 90 };

/** An audit row (SQLite or PostgreSQL: the same columns) as an AuditRow. */
export function toAuditRow(r: Record<string, unknown>): AuditRow {
  return {
    id: Number(r.id),
    time: r.time as string,
    count: r.count as number,
    firstTime: (r.first_time as string | null) ?? (r.time as string),
    event: r.event as string,
    route: (r.route as string | null) ?? undefined,
    source: (r.source as string | null) ?? undefined,
    outcome: r.outcome as string,
    reason: (r.reason as string | null) ?? undefined,
    secretId: r.secret_id as string | null,
    clientId: r.client_id as string | null,
    keyFingerprint: r.key_fingerprint as string | null,
  };
}

/**
 * A new client's values in the order of the insert's columns (client_id,
 * key_fingerprint, client_key, machine_id, hostname, os, arch,
 * agent_version, install_id, route, seen_as, secret_id, registered_at),
 * as both stores insert them.
 */
export function clientValues(row: ClientRow & { clientKey: string }): (string | null)[] {
  return [
    row.clientId,
    row.keyFingerprint,
    row.clientKey,
    row.machineId,
    row.hostname,
    row.os,
    row.arch,
    row.agentVersion,
    row.installId,
    row.route,
    row.seenAs,
    row.secretId,
    row.registeredAt,
  ];
}

/** A clients row (SQLite or PostgreSQL: the same columns) as a ClientRow. */
export function toClient(r: Record<string, unknown>): ClientRow {
  return {
    clientId: r.client_id as string,
    keyFingerprint: r.key_fingerprint as string,
    machineId: r.machine_id as string,
    hostname: r.hostname as string,
    os: r.os as string,
    arch: r.arch as string,
    agentVersion: r.agent_version as string,
    installId: r.install_id as string,
    route: r.route as string,
    seenAs: r.seen_as as string,
    secretId: r.secret_id as string | null,
    registeredAt: r.registered_at as string,
    supersededBy: r.superseded_by as string | null,
  };
}
