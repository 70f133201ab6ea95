/**
 * On Linux the machine id is computed without a shell, and must be the id
 * node-machine-id gives, or a machine registered by an earlier version would
 * register again as a new one. Each case runs the library's own command
 * (with the files and the PATH of the case) beside the computation.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeMachineId from 'node-machine-id';
import { afterAll, describe, expect, it } from 'vitest';
import { libraryLinuxId, readMachineId } from './machine.ts';
import type { LinuxIdSystem } from './machine.ts';

const onLinux = process.platform === 'linux';
const dir = mkdtempSync(join(tmpdir(), 'cb-machine-id-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha256 = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');

/** A PATH holding only these programs (links to the real ones). */
function pathWith(...programs: string[]): string {
  const bin = mkdtempSync(join(dir, 'bin-'));
  for (const p of programs) {
    const found = spawnSync('/bin/sh', ['-c', `command -v ${p}`], { encoding: 'utf8' });
    symlinkSync(found.stdout.trim(), join(bin, p));
  }
  return bin;
}
const ALL = onLinux ? pathWith('cat', 'head', 'hostname') : '';
const NO_HOSTNAME = onLinux ? pathWith('cat', 'head') : '';
const NO_CAT = onLinux ? pathWith('head', 'hostname') : '';
const NO_HEAD = onLinux ? pathWith('cat', 'hostname') : '';

/** What node-machine-id makes of its command's output, the command run here with the case's files and PATH. */
function library(system: LinuxIdSystem): string {
  const r = spawnSync(
    system.shell,
    ['-c', '( cat "$1" "$2" 2> /dev/null || hostname ) | head -n 1 || :', 'sh', ...system.files],
    { env: { PATH: system.path as string } },
  );
  expect(r.status, String(r.stderr)).toBe(0);
  return sha256(
    r.stdout
      .toString('utf8')
      .replace(/\r+|\n+|\s+/gi, '')
      .toLowerCase(),
  );
}

type Content = string | Buffer | null | { dir: true };
let n = 0;
function system(dbus: Content, etc: Content, path = ALL): LinuxIdSystem {
  const sub = join(dir, `case-${n++}`);
  mkdirSync(sub);
  const place = (name: string, content: Content): string => {
    const file = join(sub, name);
    if (content !== null && typeof content === 'object' && !Buffer.isBuffer(content))
      mkdirSync(file);
    else if (content !== null) writeFileSync(file, content);
    return file;
  };
  return { files: [place('dbus', dbus), place('etc', etc)], path, shell: '/bin/sh', hostname };
}

describe.skipIf(!onLinux)('the Linux machine id', () => {
  it('is the one node-machine-id gives on this machine', async () => {
    expect(await readMachineId('linux')).toBe(await nodeMachineId.machineId());
  });

  it.each<[string, Content, Content, string?]>([
    ['both files, the usual case', '3d1219c7c4c5404aaa1f6d2a48adfda4\n', 'ffff\n'],
    ['only /etc/machine-id (the host name is printed after it)', null, 'AB12cd\n'],
    ['only /etc/machine-id, no newline: the host name runs into it', null, 'ab12'],
    ['only the D-Bus file', 'ab12\n', null],
    ['neither: the host name', null, null],
    ['an empty D-Bus file', '', 'ab12\n'],
    ['no newline at the end of the first: the two run together', 'ab12', 'cd34\n'],
    ['CRLF and spaces', ' AB 12\r\n', 'x\n'],
    ['a directory where a file should be', { dir: true }, 'ab12\n'],
    ['a character split between the files', Buffer.from([0xc3]), Buffer.from('\xa9x\n', 'latin1')],
    ['no hostname on PATH, one file missing', null, 'ab12\n', NO_HOSTNAME],
    ['no hostname on PATH, one file missing, no newline', null, 'zzz', NO_HOSTNAME],
    ['no hostname on PATH, neither file', null, null, NO_HOSTNAME],
    ['no cat on PATH: the host name', 'ab12\n', 'cd34\n', NO_CAT],
    ['no head on PATH: nothing', 'ab12\n', 'cd34\n', NO_HEAD],
  ])('is what its command prints, hashed: %s', (_name, dbus, etc, path) => {
    const s = system(dbus, etc, path);
    expect(libraryLinuxId(s)).toBe(library(s));
  });

  it('is null where the library fails: no shell', () => {
    const s = { ...system('ab12\n', 'cd34\n'), shell: join(dir, 'no-such-sh') };
    expect(spawnSync(s.shell, ['-c', ':']).error).toBeDefined();
    expect(libraryLinuxId(s)).toBeNull();
  });

  it.each<[string, LinuxIdSystem, string]>([
    // The library's hash of nothing is refused: /etc/machine-id, then the D-Bus copy, as read.
    ['a blank first line, /etc/machine-id read directly', system('\n', 'abc\n'), sha256('abc')],
    ['no shell: /etc/machine-id read directly, as it is', system('def\n', 'ABC\n'), sha256('ABC')],
    [
      'nothing at all: the host name, marked',
      system(null, null, NO_HOSTNAME),
      sha256(`host:${hostname()}`),
    ],
  ])('falls back as before when the library gives nothing: %s', async (name, s, want) => {
    const given = name.startsWith('no shell') ? { ...s, shell: join(dir, 'no-such-sh') } : s;
    expect(await readMachineId('linux', given)).toBe(want);
  });
});
