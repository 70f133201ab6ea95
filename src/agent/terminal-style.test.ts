import { describe, expect, it } from 'vitest';
import {
  ASCII_MARKS,
  UNICODE_MARKS,
  canShowUnicode,
  parseCodePage,
  terminalStyle,
  wantsColor,
} from './terminal-style.ts';
import type { RunCommand } from './windows-acl.ts';

describe('wantsColor', () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: 'false' }, true, false],
    // no-color.org: present and not empty.
    [{ NO_COLOR: '' }, true, true],
    [{ TERM: 'dumb' }, true, false],
    [{ TERM: 'xterm-256color' }, true, true],
  ])('%j, TTY %s -> %s', (env, tty, want) => {
    expect(wantsColor(env, tty)).toBe(want);
  });
});

describe('canShowUnicode', () => {
  it.each([
    ['linux', { LANG: 'en_US.UTF-8' }, true],
    ['linux', { LANG: 'C.utf8' }, true],
    ['linux', { LANG: 'de_DE.UTF-8@euro' }, true],
    ['linux', { LANG: 'C' }, false],
    ['linux', { LANG: 'POSIX' }, false],
    ['linux', {}, false],
    ['linux', { LANG: 'en_US.ISO-8859-1' }, false],
    // LC_ALL wins over LC_CTYPE, which wins over LANG.
    ['linux', { LC_ALL: 'C', LANG: 'en_US.UTF-8' }, false],
    ['linux', { LC_CTYPE: 'en_US.UTF-8', LANG: 'C' }, true],
    ['linux', { LC_ALL: '', LC_CTYPE: 'C', LANG: 'en_US.UTF-8' }, false],
    ['darwin', { LC_CTYPE: 'UTF-8' }, true],
  ] as const)('%s %j -> %s', (platform, env, want) => {
    expect(canShowUnicode(platform, env, null)).toBe(want);
  });

  it.each([
    [65001, true],
    [437, false],
    [850, false],
    [1252, false],
    [null, false],
  ])('Windows code page %s -> %s, whatever the locale variables say', (cp, want) => {
    expect(canShowUnicode('win32', { LANG: 'en_US.UTF-8' }, cp)).toBe(want);
  });
});

describe('parseCodePage', () => {
  it.each([
    ['Active code page: 65001\r\n', 65001],
    ['Aktive Codepage: 850.\r\n', 850],
    ['Page de codes active : 1252\r\n', 1252],
    ['', null],
    ['not a code page', null],
  ])('%j -> %s', (text, want) => {
    expect(parseCodePage(text)).toBe(want);
  });
});

describe('terminalStyle', () => {
  const chcp =
    (stdout: string, code = 0): RunCommand =>
    (cmd, args) => {
      expect([cmd, ...args]).toEqual(['cmd.exe', '/d', '/c', 'chcp']);
      return { code, stdout, stderr: '' };
    };
  const never: RunCommand = () => {
    throw new Error('no command runs outside Windows');
  };

  it('asks chcp on Windows', () => {
    const tty = { stdout: true, stderr: false };
    const legacy = terminalStyle(
      { env: {}, platform: 'win32', runCommand: chcp('Active code page: 437') },
      tty,
    );
    expect(legacy).toEqual({ color: { stdout: true, stderr: false }, marks: ASCII_MARKS });
    const utf8 = terminalStyle(
      { env: {}, platform: 'win32', runCommand: chcp('Active code page: 65001') },
      tty,
    );
    expect(utf8.marks).toBe(UNICODE_MARKS);
    const failed = terminalStyle({ env: {}, platform: 'win32', runCommand: chcp('', 1) }, tty);
    expect(failed.marks).toBe(ASCII_MARKS);
  });

  it('reads the locale elsewhere and runs nothing', () => {
    const s = terminalStyle(
      { env: { LANG: 'en_GB.UTF-8', NO_COLOR: '1' }, platform: 'linux', runCommand: never },
      { stdout: true, stderr: true },
    );
    expect(s).toEqual({ color: { stdout: false, stderr: false }, marks: UNICODE_MARKS });
  });
});
