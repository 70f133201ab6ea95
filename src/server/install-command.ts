/**
 * `bootstrap-server install-command --shell sh|cmd|powershell`: the agent's
 * silent-install command line, quoted for the shell it is pasted into. POSIX
 * quotes ('C:\secret.txt') mean nothing to cmd.exe, and cmd's quoting means
 * nothing to PowerShell, so each gets its own.
 */
import { UserError } from '../common/errors.ts';
import { shellQuote } from './cli-helpers.ts';

export type InstallShell = 'sh' | 'cmd' | 'powershell';
export const INSTALL_SHELLS: readonly InstallShell[] = ['sh', 'cmd', 'powershell'];

export interface InstallCommandInput {
  readonly server?: string;
  readonly relay?: string;
  readonly serverId: string;
  readonly serverPin: string;
  readonly secretPath: string;
}

/** Where the installer is expected to put the secret file, per shell. */
export function defaultSecretPath(shell: InstallShell): string {
  // SCCM and Intune run the install command in the package's own folder.
  return shell === 'sh' ? '/etc/client-bootstrap/secret' : 'secret.txt';
}

/**
 * cmd.exe: double quotes around anything but plain characters. A `"` cannot
 * be escaped inside them, and `%` or `!` may expand a variable, so values
 * with those are refused rather than quoted wrongly.
 */
export function quoteCmd(value: string): string {
  if (/["%!\r\n]/.test(value))
    throw new UserError('usage', `cannot quote ${JSON.stringify(value)} safely for cmd.exe`, {
      hint: 'ship client-bootstrap.json (client-config) beside the executable instead, or use --shell powershell',
    });
  return /^[A-Za-z0-9_.\\/:@+=,-]+$/.test(value) ? value : `"${value}"`;
}

/** PowerShell: single-quoted literals (no expansion); a `'` is doubled. */
export function quotePowerShell(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The full command, with a comment line saying what to do first. */
export function formatInstallCommand(input: InstallCommandInput, shell: InstallShell): string {
  const q = shell === 'sh' ? shellQuote : shell === 'cmd' ? quoteCmd : quotePowerShell;
  const args: string[] = [];
  if (input.server) args.push('--server', q(input.server));
  if (input.relay) args.push('--relay', q(input.relay));
  // `=` keeps an id that starts with "-" from reading as an option.
  args.push(q(`--server-id=${input.serverId}`), q(`--server-pin=${input.serverPin}`));
  args.push('--secret-file', q(input.secretPath), '--no-interactive', '--json');
  const note = `Put the authorization secret alone in ${input.secretPath} (readable only by the installer account), or ship client-bootstrap.json (bootstrap-server client-config) beside the executable.`;
  switch (shell) {
    case 'sh':
      return `# ${note}\nclient-bootstrap ${args.join(' ')}\n`;
    case 'cmd':
      return (
        `REM ${note}\n` +
        `REM Exit codes 5 and 8 mean "retry later"; --retry-exit-code 1618 turns them into the code SCCM and Intune retry on.\n` +
        `"%ProgramFiles%\\ClientBootstrap\\client-bootstrap.exe" ${args.join(' ')} --retry-exit-code 1618\n`
      );
    case 'powershell':
      return (
        `# ${note}\n` +
        `# Exit codes 5 and 8 mean "retry later"; --retry-exit-code 1618 turns them into the code SCCM and Intune retry on.\n` +
        `& "$env:ProgramFiles\\ClientBootstrap\\client-bootstrap.exe" ${args.join(' ')} --retry-exit-code 1618; exit $LASTEXITCODE\n`
      );
  }
}
