/**
 * On Linux the machine id is read without a shell, and must be the id
 * node-machine-id gives, or a machine registered by an earlier version would
 * register again as a new one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeMachineId from 'node-machine-id';
import { afterAll, describe, expect, it } from 'vitest';
import { hashIdLine, linuxIdLine, readMachineId } from './machine.ts';

const onLinux = process.platform === 'linux';
const dir = mkdtempSync(join(tmpdir(), 'cb-machine-id-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** node-machine-id's own command, with the two files it reads given here. */
function shellLine(a: string, b: string): string {
  const r = spawnSync(
    '/bin/sh',
    ['-c', '( cat "$1" "$2" 2> /dev/null || hostname ) | head -n 1 || :', 'sh', a, b],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.replace(/\n$/, '');
}

/** A file's text, no file (null), or a directory ({ dir: true }). */
type Content = string | null | { dir: true };
function place(name: string, content: Content): string {
  const path = join(dir, name);
  if (typeof content === 'object' && content !== null) mkdirSync(path);
  else if (typeof content === 'string') writeFileSync(path, content);
  return path;
}

describe.skipIf(!onLinux)('the Linux machine id', () => {
  it('is the one node-machine-id gives on this machine', async () => {
    expect(await readMachineId('linux')).toBe(await nodeMachineId.machineId());
  });

  it.each<[string, Content, Content]>([
    ['both files, the usual case', '3d1219c7c4c5404aaa1f6d2a48adfda4\n', 'ffff\n'],
    ['only /etc/machine-id (the host name is printed after it)', null, 'AB12cd\n'],
    ['only the D-Bus file', 'ab12\n', null],
    ['neither: the host name', null, null],
    ['an empty D-Bus file', '', 'ab12\n'],
    ['no newline at the end of the first: the two run together', 'ab12', 'cd34\n'],
    ['CRLF and spaces', ' AB 12\r\n', 'x\n'],
    ['a directory where a file should be', { dir: true }, 'ab12\n'],
    ['only newlines', '\n\n', '\n'],
  ])('reads as its command does: %s', (name, dbus, etc) => {
    const sub = join(dir, name.replace(/[^a-z]+/gi, '-'));
    mkdirSync(sub);
    const a = place(join(sub.slice(dir.length + 1), 'dbus'), dbus);
    const b = place(join(sub.slice(dir.length + 1), 'etc'), etc);
    const line = linuxIdLine([a, b]);
    expect(line).toBe(shellLine(a, b));
    // Hashed as the library hashes what its command printed.
    if (line.trim()) expect(hashIdLine(line)).toMatch(/^[0-9a-f]{64}$/);
    else expect(hashIdLine(line)).toBeNull();
  });

  it('where neither file can be read, is the host name, hashed without white space in lower case', () => {
    expect(linuxIdLine([join(dir, 'none-1'), join(dir, 'none-2')], () => 'Host-7')).toBe('Host-7');
    expect(hashIdLine(' Host-7\r')).toBe(hashIdLine('host-7'));
    expect(hashIdLine('host-7')).not.toBe(hashIdLine('host-8'));
  });
});
