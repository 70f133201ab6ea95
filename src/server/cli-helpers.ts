/** Helpers of the bootstrap-server command line: paths, input of a new secret, tables. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CliDeps } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import { promptMasked, readAllLimited } from '../common/prompt.ts';
import { Secret } from '../protocol/index.ts';
import type { DataDir } from './data-dir.ts';
import { describeLimits } from './secrets-expiry.ts';
import type { SecretRow } from './store.ts';

/** The options every `bootstrap-server` command has. */
export interface CliGlobals {
  'data-dir': string;
  'kdf-log-n': number | undefined;
}

/** What the command groups of `bootstrap-server` share. */
export interface ServerCli {
  readonly deps: CliDeps;
  readonly out: (text: string) => void;
  /**
   * Opens the data directory for one command and closes it after. Only a
   * command that sets the server up (`create`) may make a new one; the
   * others name a directory that is not there.
   */
  readonly withDir: (
    a: { dataDir: string; kdfLogN?: number | undefined; store?: string | undefined },
    fn: (dd: DataDir) => Promise<void> | void,
    opts?: { create?: boolean },
  ) => Promise<void>;
}

/** The per-OS default data directory. */
export function defaultServerDataDir(env: CliDeps['env']): string {
  if (process.platform === 'win32')
    return join(env.ProgramData ?? 'C:\\ProgramData', 'BootstrapServer');
  if (process.getuid?.() === 0) return '/var/lib/bootstrap-server';
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'bootstrap-server');
}

export async function readNewSecret(deps: CliDeps): Promise<Secret> {
  if (deps.stdin.isTTY) {
    const first = await promptMasked(deps.stdin, deps.stderr, 'Auth Secret: ');
    const second = await promptMasked(deps.stdin, deps.stderr, 'Repeat it: ');
    if (first !== second)
      throw new UserError('mismatch', 'the two entries differ; nothing was added');
    return Secret.from(first);
  }
  const text = await readAllLimited(deps.stdin, 4096, 'the secret on stdin');
  if (text.length === 0) {
    throw new UserError('no_secret', 'no secret on stdin', {
      hint: 'pipe it in (printf %s "$SECRET" | bootstrap-server auth secret add), type it at a terminal, or use --generate',
    });
  }
  return Secret.from(text, { fromFile: true });
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map((c) => cellText(r[c])));
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...cells.map((row) => (row[i] as string).length)),
  );
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return `${[line(columns), ...cells.map(line)].join('\n')}\n`;
}

/** Runs the server CLI; never throws. */

export async function urlsFor(
  dd: DataDir,
  a: { serverUrl?: string; relayUrl?: string },
): Promise<{ serverUrl?: string; relayUrl?: string }> {
  const serverUrl = a.serverUrl ?? (await dd.store.getSetting('server_url'));
  const relayUrl = a.relayUrl ?? (await dd.store.getSetting('relay_url'));
  return { ...(serverUrl ? { serverUrl } : {}), ...(relayUrl ? { relayUrl } : {}) };
}

export function describeMode(mode: string): string {
  if (mode === 'none') return 'No Authorization';
  if (mode === 'internet') return 'Enable Internet Clients';
  return 'Enable All Clients';
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function secretsTable(rows: readonly SecretRow[]): string {
  return table(
    rows.map((r) => ({ ...r, limits: describeLimits(r) })),
    ['id', 'label', 'createdAt', 'lastUsedAt', 'useCount', 'limits'],
  );
}

function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
