/**
 * On Windows, mode 0700 means nothing: a folder under C:\ProgramData
 * inherits read access for every local user, so state.json (the credential)
 * and client-key.pem would be readable by anyone, and a non-administrator
 * could create the folder first and keep control of it. When the agent runs
 * elevated (SYSTEM from a deployment tool, or an administrator), its state
 * and log directories get a protected DACL (SYSTEM and Administrators full
 * control, nothing inherited), and an existing directory owned by anyone else
 * is refused (exit 9).
 *
 * Accounts are named by SID, never by name: "Administrators" is
 * "Administratoren" on a German Windows.
 */
import { UserError } from '../common/errors.ts';

export const SYSTEM_SID = 'S-1-5-18';
export const ADMINISTRATORS_SID = 'S-1-5-32-544';
/** Mandatory integrity levels that mean "elevated": high (administrator) and system. */
const ELEVATED_LEVELS = ['S-1-16-12288', 'S-1-16-16384'];

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program without a shell and returns what it printed. */
export type RunCommand = (cmd: string, args: readonly string[]) => CommandResult;

/** `whoami /groups` lists the token's integrity level as a SID. */
export const ELEVATION_QUERY = ['whoami.exe', ['/groups', '/fo', 'csv', '/nh']] as const;

export function isElevated(whoamiGroups: string): boolean {
  return ELEVATED_LEVELS.some((sid) => whoamiGroups.includes(`"${sid}"`));
}

/**
 * PowerShell prints one line per object, `SID<TAB>path`: the directory and
 * everything already inside it. A folder the MSI made inherits "create
 * files" for local users from ProgramData, so a user could plant a
 * state.json there before the first elevated run; its owner gives it away.
 * Single quotes in the path are doubled for PowerShell's literal string.
 */
export function ownerQuery(dir: string): [string, string[]] {
  const literal = dir.replace(/'/g, "''");
  const sid = '[System.Security.Principal.SecurityIdentifier]';
  return [
    'powershell.exe',
    [
      '-NoProfile',
      '-NonInteractive',
      '-Command',
      `@(Get-Item -LiteralPath '${literal}' -Force) + @(Get-ChildItem -LiteralPath '${literal}' -Recurse -Force) | ForEach-Object { (Get-Acl -LiteralPath $_.FullName).GetOwner(${sid}).Value + [char]9 + $_.FullName }`,
    ],
  ];
}

/** Parses ownerQuery's output; null when a line is not `SID<TAB>path`. */
export function parseOwners(text: string): { sid: string; path: string }[] | null {
  const rows: { sid: string; path: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const m = /^(S-1-[\d-]+)\t(.+)$/.exec(line);
    if (!m) return null;
    rows.push({ sid: m[1] as string, path: m[2] as string });
  }
  return rows.length > 0 ? rows : null;
}

export function isTrustedOwner(sid: string): boolean {
  return sid === SYSTEM_SID || sid === ADMINISTRATORS_SID;
}

/**
 * icacls: drop inheritance (and the inherited entries), then replace the
 * grants with full control for SYSTEM and Administrators, inherited by
 * everything created inside (OI: files, CI: folders).
 */
export function protectCommand(dir: string): [string, string[]] {
  return [
    'icacls.exe',
    [
      dir,
      '/inheritance:r',
      '/grant:r',
      `*${SYSTEM_SID}:(OI)(CI)F`,
      `*${ADMINISTRATORS_SID}:(OI)(CI)F`,
      '/q',
    ],
  ];
}

function stateError(message: string, hint: string): UserError {
  return new UserError('state', message, { hint });
}

/**
 * Secures each existing directory in `dirs` (create them first). Does
 * nothing when not elevated: a user's own --state-dir stays theirs.
 */
export function protectWindowsDirs(dirs: readonly string[], run: RunCommand): void {
  const who = run(ELEVATION_QUERY[0], ELEVATION_QUERY[1]);
  if (who.code !== 0 || !isElevated(who.stdout)) return;
  for (const dir of new Set(dirs)) {
    const [ocmd, oargs] = ownerQuery(dir);
    const owner = run(ocmd, oargs);
    const owners = owner.code === 0 ? parseOwners(owner.stdout) : null;
    if (!owners)
      throw stateError(
        `cannot read the owner of ${dir}: ${owner.stderr.trim() || `exit ${owner.code}`}`,
        'check that PowerShell is available to this account',
      );
    const foreign = owners.find((o) => !isTrustedOwner(o.sid));
    if (foreign)
      throw stateError(
        `${foreign.path} is owned by ${foreign.sid}, not SYSTEM or Administrators: someone else may have created it to read or plant the credential`,
        `remove ${foreign.path} as an administrator (after checking what it is) and run again`,
      );
    const [pcmd, pargs] = protectCommand(dir);
    const protect = run(pcmd, pargs);
    if (protect.code !== 0)
      throw stateError(
        `cannot restrict access to ${dir}: ${protect.stderr.trim() || protect.stdout.trim() || `icacls exit ${protect.code}`}`,
        'run as SYSTEM or an administrator',
      );
  }
}
