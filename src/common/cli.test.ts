import { describe, expect, it } from 'vitest';
import { joinDashValues, kebabCase } from './cli.ts';

const VALUES = new Set(['server-id', 'secret-file', 'deadline', 'log-file']);
const STDIN = new Set(['secret-file']);

describe('joinDashValues', () => {
  it('joins a value that begins with one "-" to the option before it', () => {
    expect(joinDashValues(['--server-id', '-Dabc', '--json'], VALUES, STDIN)).toEqual([
      '--server-id=-Dabc',
      '--json',
    ]);
    expect(joinDashValues(['--deadline', '-5'], VALUES, STDIN)).toEqual(['--deadline=-5']);
  });

  it('knows the option in camelCase too, as yargs does', () => {
    expect(joinDashValues(['--serverId', '-Dabc'], VALUES, STDIN)).toEqual(['--serverId=-Dabc']);
    expect(joinDashValues(['--secretFile', '-'], VALUES, STDIN)).toEqual(['--secretFile=-']);
  });

  it('joins a lone "-" only where it means standard input', () => {
    expect(joinDashValues(['--secret-file', '-'], VALUES, STDIN)).toEqual(['--secret-file=-']);
    expect(() => joinDashValues(['--log-file', '-'], VALUES, STDIN)).toThrow(
      /--log-file cannot be "-"/,
    );
    expect(() => joinDashValues(['--secret-file', '-'], VALUES)).toThrow(/cannot be "-"/);
    expect(joinDashValues(['--json', '-'], VALUES, STDIN)).toEqual(['--json', '-']);
  });

  it('leaves options, boolean flags, written-out values and everything after "--" alone', () => {
    const argv = [
      '--server-id',
      '--json',
      '--quiet',
      '-x',
      '--server-id=-y',
      '--',
      '--deadline',
      '-z',
    ];
    expect(joinDashValues(argv, VALUES, STDIN)).toEqual(argv);
    expect(joinDashValues(['--server-id'], VALUES, STDIN)).toEqual(['--server-id']);
    expect(joinDashValues(['--server-id', 'plain'], VALUES, STDIN)).toEqual([
      '--server-id',
      'plain',
    ]);
  });
});

describe('kebabCase', () => {
  it('turns yargs camelCase back into the declared name', () => {
    expect(kebabCase('serverId')).toBe('server-id');
    expect(kebabCase('allowUnpinnedRelay')).toBe('allow-unpinned-relay');
    expect(kebabCase('server-id')).toBe('server-id');
  });
});
