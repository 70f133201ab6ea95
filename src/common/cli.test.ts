import { describe, expect, it } from 'vitest';
import { joinDashValues } from './cli.ts';

const VALUES = new Set(['server-id', 'secret-file', 'deadline']);

describe('joinDashValues', () => {
  it('joins a value that begins with one "-" to the option before it', () => {
    expect(joinDashValues(['--server-id', '-Dabc', '--json'], VALUES)).toEqual([
      '--server-id=-Dabc',
      '--json',
    ]);
    expect(joinDashValues(['--secret-file', '-'], VALUES)).toEqual(['--secret-file=-']);
    expect(joinDashValues(['--deadline', '-5'], VALUES)).toEqual(['--deadline=-5']);
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
    expect(joinDashValues(argv, VALUES)).toEqual(argv);
    expect(joinDashValues(['--server-id'], VALUES)).toEqual(['--server-id']);
    expect(joinDashValues(['--server-id', 'plain'], VALUES)).toEqual(['--server-id', 'plain']);
  });
});
