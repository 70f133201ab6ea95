import { describe, expect, it } from 'vitest';
import { elevationWarning, isElevated } from './elevation.ts';
import type { RunCommand } from './windows-acl.ts';

const answers =
  (code: number | null): RunCommand =>
  (cmd, args) => {
    expect([cmd, ...args]).toEqual(['net', 'session']);
    return { code, stdout: '', stderr: code === 0 ? '' : 'System error 5: Access is denied.' };
  };
const never: RunCommand = () => {
  throw new Error('no command runs outside Windows');
};

describe('isElevated', () => {
  it.each([
    ['linux', true, never, true],
    ['linux', false, never, false],
    ['darwin', false, never, false],
    ['win32', false, answers(0), true],
    ['win32', false, answers(2), false],
    ['win32', false, answers(null), false],
  ] as const)('%s, root %s', (platform, isRoot, run, want) => {
    expect(isElevated(platform, isRoot, run)).toBe(want);
  });

  it('a command that cannot run at all counts as not elevated', () => {
    expect(
      isElevated('win32', false, () => {
        throw new Error('ENOENT');
      }),
    ).toBe(false);
  });
});

describe('elevationWarning', () => {
  const dir = { stateDir: 'C:\\ProgramData\\ClientBootstrap', stateDirFrom: 'default' } as const;
  it('names where the state goes and what to do, on each platform', () => {
    expect(elevationWarning(dir, 'win32', false)).toBe(
      'not running as administrator: a system install should run elevated (from an elevated prompt); the state goes to C:\\ProgramData\\ClientBootstrap; give --user to keep a per-user registration on purpose',
    );
    expect(
      elevationWarning(
        { stateDir: '/home/a/.local/state/client-bootstrap', stateDirFrom: 'default' },
        'linux',
        false,
      ),
    ).toMatch(
      /^not running as root: a system install should run elevated \(with sudo\); the state goes to \/home\/a\/\.local\/state\/client-bootstrap, where a system service will not look;/,
    );
  });
  it.each([
    ['elevated', { ...dir }, true],
    ['--user', { ...dir, stateDirFrom: 'user' as const }, false],
    ['--state-dir', { ...dir, stateDirFrom: 'given' as const }, false],
  ])('is not given when %s', (_why, s, elevated) => {
    expect(elevationWarning(s, 'win32', elevated)).toBeNull();
  });
});
