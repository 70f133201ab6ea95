import { describe, expect, it } from 'vitest';
import { givesSecretFlag, joinSecretFlag, refuseRepeatedOptions } from './cli-options.ts';

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

describe('joinSecretFlag', () => {
  it('takes the word after --secret as the secret even when it begins with "--"', () => {
    expect(joinSecretFlag(['--secret', '--Tr0ub4dor', '--json'])).toEqual([
      '--secret=--Tr0ub4dor',
      '--json',
    ]);
    // One of the options written with "=" is not how anyone forgets a value: it is the secret.
    expect(joinSecretFlag(['--secret', '--route=x'])).toEqual(['--secret=--route=x']);
  });

  it('leaves it when the word is one of the options, "--", or comes after "--"', () => {
    for (const argv of [
      ['--secret', '--json'],
      ['--secret', '--no-interactive'],
      ['--secret', '--serverId', 'x'],
      ['--secret', '--'],
      ['--', '--secret', '--x'],
      ['--secret', 'plain'],
      ['--secret'],
    ])
      expect(joinSecretFlag(argv)).toEqual(argv);
  });
});

describe('givesSecretFlag', () => {
  it('sees --secret in any case and form, after "--" too', () => {
    for (const argv of [['--secret', 'x'], ['--secret=x'], ['--Secret', 'x'], ['--', '--secret']])
      expect(givesSecretFlag(argv)).toBe(true);
    for (const argv of [['--secret-file', 'f'], ['--json'], ['secret']])
      expect(givesSecretFlag(argv)).toBe(false);
  });
});
