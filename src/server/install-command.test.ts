import { describe, expect, it } from 'vitest';
import { formatInstallCommand, quoteCmd, quotePowerShell } from './install-command.ts';

const input = {
  server: 'https://mgmt.corp:8443',
  relay: 'https://relay.example.com/a b',
  serverId: '-Ab_9',
  serverPin: 'sha256:AbC-_d',
  secretPath: 'C:\\Deploy Files\\secret.txt',
};

describe('install-command --shell', () => {
  it('sh: POSIX single quotes', () => {
    expect(formatInstallCommand(input, 'sh').split('\n')[1]).toBe(
      "client-bootstrap --server https://mgmt.corp:8443 --relay 'https://relay.example.com/a b' --server-id=-Ab_9 --server-pin=sha256:AbC-_d --secret-file 'C:\\Deploy Files\\secret.txt' --no-interactive --json",
    );
  });

  it('cmd: double quotes where needed, the installed exe, and the SCCM retry code', () => {
    const lines = formatInstallCommand(input, 'cmd').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REM /);
    expect(lines[1]).toMatch(/^REM /);
    expect(lines[2]).toBe(
      '"%ProgramFiles%\\ClientBootstrap\\client-bootstrap.exe" --server https://mgmt.corp:8443 --relay "https://relay.example.com/a b" --server-id=-Ab_9 --server-pin=sha256:AbC-_d --secret-file "C:\\Deploy Files\\secret.txt" --no-interactive --json --retry-exit-code 1618',
    );
  });

  it('powershell: single-quoted literals, the call operator, and the exit code passed on', () => {
    const last = formatInstallCommand({ ...input, secretPath: "C:\\O'Brien\\s.txt" }, 'powershell')
      .trimEnd()
      .split('\n')
      .pop();
    expect(last).toBe(
      `& "$env:ProgramFiles\\ClientBootstrap\\client-bootstrap.exe" --server 'https://mgmt.corp:8443' --relay 'https://relay.example.com/a b' '--server-id=-Ab_9' '--server-pin=sha256:AbC-_d' --secret-file 'C:\\O''Brien\\s.txt' --no-interactive --json --retry-exit-code 1618; exit $LASTEXITCODE`,
    );
  });

  it.each(['100%', 'say "hi"', 'bang!', 'two\nlines'])(
    'refuses to quote %j for cmd.exe rather than quote it wrongly',
    (value) => {
      expect(() => quoteCmd(value)).toThrow(expect.objectContaining({ code: 'usage' }));
    },
  );

  it('quotes for PowerShell without expansion', () => {
    expect(quotePowerShell('$env:SECRET')).toBe("'$env:SECRET'");
  });
});
