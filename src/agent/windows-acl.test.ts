import { describe, expect, it } from 'vitest';
import {
  isElevated,
  isTrustedOwner,
  ownerQuery,
  parseOwners,
  protectCommand,
  protectWindowsDirs,
} from './windows-acl.ts';
import type { CommandResult } from './windows-acl.ts';

const ELEVATED_WHOAMI =
  '"BUILTIN\\Administrators","Alias","S-1-5-32-544","Mandatory group, Enabled by default, Enabled group, Group owner"\r\n' +
  '"Mandatory Label\\High Mandatory Level","Label","S-1-16-12288",""\r\n';
const SYSTEM_WHOAMI = '"Mandatory Label\\System Mandatory Level","Label","S-1-16-16384",""\r\n';
const USER_WHOAMI =
  '"BUILTIN\\Users","Alias","S-1-5-32-545","Mandatory group, Enabled by default, Enabled group"\r\n' +
  '"Mandatory Label\\Medium Mandatory Level","Label","S-1-16-8192",""\r\n';

/** A scripted outside world: answers by program name and records every call. */
function fakeRunner(
  answers: Record<string, CommandResult | ((args: readonly string[]) => CommandResult)>,
) {
  const calls: [string, readonly string[]][] = [];
  const run = (cmd: string, args: readonly string[]): CommandResult => {
    calls.push([cmd, args]);
    const a = answers[cmd];
    if (!a) throw new Error(`unexpected ${cmd}`);
    return typeof a === 'function' ? a(args) : a;
  };
  return { run, calls };
}
const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });

describe('the exact commands', () => {
  it('protects a directory: no inheritance, full control for SYSTEM and Administrators by SID', () => {
    expect(protectCommand('C:\\ProgramData\\ClientBootstrap')).toEqual([
      'icacls.exe',
      [
        'C:\\ProgramData\\ClientBootstrap',
        '/inheritance:r',
        '/grant:r',
        '*S-1-5-18:(OI)(CI)F',
        '*S-1-5-32-544:(OI)(CI)F',
        '/q',
      ],
    ]);
  });

  it('asks PowerShell for the owners of the directory and everything in it, as SIDs', () => {
    const [cmd, args] = ownerQuery("C:\\Data\\O'Brien");
    expect(cmd).toBe('powershell.exe');
    expect(args.slice(0, 3)).toEqual(['-NoProfile', '-NonInteractive', '-Command']);
    expect(args[3]).toBe(
      "@(Get-Item -LiteralPath 'C:\\Data\\O''Brien' -Force) + @(Get-ChildItem -LiteralPath 'C:\\Data\\O''Brien' -Recurse -Force) | ForEach-Object { (Get-Acl -LiteralPath $_.FullName).GetOwner([System.Security.Principal.SecurityIdentifier]).Value + [char]9 + $_.FullName }",
    );
  });

  it('parses SID<TAB>path lines, and nothing else', () => {
    expect(parseOwners('S-1-5-18\tC:\\d\r\nS-1-5-32-544\tC:\\d\\state.json\r\n')).toEqual([
      { sid: 'S-1-5-18', path: 'C:\\d' },
      { sid: 'S-1-5-32-544', path: 'C:\\d\\state.json' },
    ]);
    expect(parseOwners('')).toBeNull();
    expect(parseOwners('Get-Acl : access denied\r\n')).toBeNull();
  });

  it.each([
    [ELEVATED_WHOAMI, true],
    [SYSTEM_WHOAMI, true],
    [USER_WHOAMI, false],
    ['VM\\root\r\n', false],
  ])('reads elevation from whoami /groups (%#)', (text, elevated) => {
    expect(isElevated(text)).toBe(elevated);
  });

  it.each([
    ['S-1-5-18', true],
    ['S-1-5-32-544', true],
    ['S-1-5-21-1004336348-1177238915-682003330-1001', false],
    ['S-1-5-32-545', false],
  ])('trusts owner %s: %s', (sid, trusted) => {
    expect(isTrustedOwner(sid)).toBe(trusted);
  });
});

describe('protectWindowsDirs', () => {
  const dirs = ['C:\\ProgramData\\ClientBootstrap', 'C:\\ProgramData\\ClientBootstrap\\Logs'];

  it('checks the owner, then protects each directory, when elevated', () => {
    const f = fakeRunner({
      'whoami.exe': ok(SYSTEM_WHOAMI),
      'powershell.exe': (args) => {
        const dir = /LiteralPath '([^']+)'/.exec(args[3] ?? '')?.[1] ?? '';
        return ok(`S-1-5-18\t${dir}\r\nS-1-5-32-544\t${dir}\\state.json\r\n`);
      },
      'icacls.exe': ok('processed 1 file'),
    });
    protectWindowsDirs(dirs, f.run);
    expect(f.calls).toEqual([
      ['whoami.exe', ['/groups', '/fo', 'csv', '/nh']],
      ownerQuery(dirs[0] as string),
      protectCommand(dirs[0] as string),
      ownerQuery(dirs[1] as string),
      protectCommand(dirs[1] as string),
    ]);
  });

  it('leaves a non-elevated user’s directories alone', () => {
    const f = fakeRunner({ 'whoami.exe': ok(USER_WHOAMI) });
    protectWindowsDirs(dirs, f.run);
    expect(f.calls).toHaveLength(1);
  });

  it('refuses (exit 9) a directory that a user created before the install', () => {
    const f = fakeRunner({
      'whoami.exe': ok(SYSTEM_WHOAMI),
      'powershell.exe': ok(
        'S-1-5-21-1004336348-1177238915-682003330-1001\tC:\\ProgramData\\ClientBootstrap\r\n',
      ),
      'icacls.exe': ok(),
    });
    expect(() => protectWindowsDirs(dirs, f.run)).toThrow(
      expect.objectContaining({
        code: 'state',
        message: expect.stringContaining('not SYSTEM or Administrators') as unknown,
      }),
    );
    expect(f.calls.map(([c]) => c)).not.toContain('icacls.exe');
  });

  it('refuses (exit 9) a directory with a file a user planted in it, naming the file', () => {
    const f = fakeRunner({
      'whoami.exe': ok(SYSTEM_WHOAMI),
      'powershell.exe': ok(
        'S-1-5-18\tC:\\ProgramData\\ClientBootstrap\r\n' +
          'S-1-5-21-1004336348-1177238915-682003330-1001\tC:\\ProgramData\\ClientBootstrap\\state.json\r\n',
      ),
      'icacls.exe': ok(),
    });
    expect(() => protectWindowsDirs(dirs, f.run)).toThrow(
      /C:\\ProgramData\\ClientBootstrap\\state\.json is owned by S-1-5-21-/,
    );
    expect(f.calls.map(([c]) => c)).not.toContain('icacls.exe');
  });

  it('fails (exit 9) when icacls cannot set the DACL or the owner cannot be read', () => {
    const denied = fakeRunner({
      'whoami.exe': ok(ELEVATED_WHOAMI),
      'powershell.exe': ok('S-1-5-32-544\tC:\\ProgramData\\ClientBootstrap'),
      'icacls.exe': { code: 5, stdout: '', stderr: 'Access is denied.' },
    });
    expect(() => protectWindowsDirs(dirs, denied.run)).toThrow(/Access is denied/);
    const noPowershell = fakeRunner({
      'whoami.exe': ok(ELEVATED_WHOAMI),
      'powershell.exe': { code: null, stdout: '', stderr: 'spawnSync powershell.exe ENOENT' },
    });
    expect(() => protectWindowsDirs(dirs, noPowershell.run)).toThrow(
      expect.objectContaining({ code: 'state' }),
    );
  });
});
