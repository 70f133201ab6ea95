import { describe, expect, it } from 'vitest';
import { refuseRepeatedOptions } from './cli-options.ts';

describe('refuseRepeatedOptions', () => {
  it('refuses one option given twice, in either case or negated', () => {
    expect(() => refuseRepeatedOptions(['--deadline', '5', '--deadline=6'])).toThrow(
      /--deadline was given more than once/,
    );
    expect(() => refuseRepeatedOptions(['--server-id', 'a', '--serverId', 'b'])).toThrow(
      /--server-id was given more than once/,
    );
    expect(() => refuseRepeatedOptions(['--interactive', '--no-interactive'])).toThrow(
      /--interactive was given more than once/,
    );
  });

  it('does not take --serverId for a second --server', () => {
    expect(() =>
      refuseRepeatedOptions(['--server', 'https://s', '--serverId', 'AAAAAAAAAAAAAAAAAAAAAA']),
    ).not.toThrow();
  });

  it('stops at "--"', () => {
    expect(() => refuseRepeatedOptions(['--json', '--', '--json'])).not.toThrow();
  });
});
