/** The state-directory, --user and route parts of resolveSettings. */
import { describe, expect, it } from 'vitest';
import { UserError } from '../common/errors.ts';
import { resolveSettings } from './config.ts';
import type { AgentFlags, ConfigEnv, SettingsCommand } from './config.ts';

function cfg(over: Partial<ConfigEnv> = {}): ConfigEnv {
  return {
    env: { LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local', ProgramData: 'C:\\ProgramData' },
    readFile: () => {
      throw Object.assign(new Error('no file'), { code: 'ENOENT' });
    },
    exists: () => false,
    exeDir: '/opt/cb',
    platform: 'linux',
    isRoot: false,
    ...over,
  };
}

function settle(flags: AgentFlags, command: SettingsCommand = 'register', over = {}) {
  return resolveSettings(flags, cfg(over), { command });
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('no refusal');
}

describe('where the state goes', () => {
  it('root: the system directory; otherwise the user one, and --user says so', () => {
    const root = settle({ server: 'http://s' }, 'register', { isRoot: true });
    expect(root).toMatchObject({ stateDir: '/var/lib/client-bootstrap', stateDirFrom: 'default' });
    const plain = settle({ server: 'http://s' });
    expect(plain.stateDirFrom).toBe('default');
    expect(plain.stateDir).toMatch(/\.local[\\/]state[\\/]client-bootstrap$/);
    const user = settle({ server: 'http://s', user: true });
    expect(user).toMatchObject({ stateDir: plain.stateDir, stateDirFrom: 'user' });
    expect(user.logFile).toBe(`${user.stateDir}/client-bootstrap.log`);
  });

  it('Windows: ProgramData by default, LOCALAPPDATA with --user', () => {
    const win = { platform: 'win32' as const };
    expect(settle({ server: 'http://s' }, 'register', win).stateDir).toMatch(
      /^C:\\ProgramData[\\/]ClientBootstrap$/,
    );
    const user = settle({ server: 'http://s', user: true }, 'register', win);
    expect(user.stateDir).toMatch(/^C:\\Users\\ann\\AppData\\Local[\\/]ClientBootstrap$/);
    expect(user.logFile.startsWith(user.stateDir)).toBe(true);
  });

  it('--state-dir is given, and with --user it is a usage error', () => {
    expect(settle({ server: 'http://s', stateDir: '/x' })).toMatchObject({
      stateDir: '/x',
      stateDirFrom: 'given',
    });
    expect(refusal(() => settle({ server: 'http://s', stateDir: '/x', user: true }))).toMatch(
      /^usage: --user and --state-dir .* both choose the state directory$/,
    );
  });
});

describe('routes per command', () => {
  it.each(['status', 'unregister'] as const)('%s needs no route, nor a complete one', (command) => {
    expect(settle({}, command).server).toBeUndefined();
    expect(settle({ relay: 'http://r' }, command).relay).toBe('http://r');
    expect(settle({ route: 'direct' }, command).route).toBe('direct');
  });

  it('register and check still do', () => {
    expect(refusal(() => settle({}))).toBe('usage: no server and no relay are configured');
    expect(refusal(() => settle({ relay: 'http://r' }, 'check'))).toBe(
      'usage: --relay needs --server-id',
    );
  });

  it('all is for check only', () => {
    expect(settle({ server: 'http://s', route: 'all' }, 'check')).toMatchObject({
      route: 'auto',
      allRoutes: true,
    });
    expect(refusal(() => settle({ server: 'http://s', route: 'all' }))).toBe(
      'usage: --route all is for check only',
    );
    expect(refusal(() => settle({ server: 'http://s', route: 'every' }, 'check'))).toBe(
      'usage: --route must be auto, direct, relay or all',
    );
  });

  it('the log file: named or not', () => {
    expect(settle({ server: 'http://s' }).logFileGiven).toBe(false);
    expect(settle({ server: 'http://s', logFile: '/l.log' })).toMatchObject({
      logFile: '/l.log',
      logFileGiven: true,
    });
  });
});
