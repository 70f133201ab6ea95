import { describe, expect, it } from 'vitest';
import { hasSensitiveArgs } from './process-title.ts';

describe('hasSensitiveArgs', () => {
  it('finds --secret in any case, bare or with "=", and a --proxy with a password', () => {
    for (const argv of [
      ['--secret', 'x'],
      ['--secret=x'],
      ['--Secret', 'x'],
      ['--SECRET=x'],
      ['--proxy', 'http://u:p@proxy:3128'],
      ['--proxy=http://u:p@proxy:3128'],
    ])
      expect(hasSensitiveArgs(argv), argv.join(' ')).toBe(true);
  });

  it('leaves a secret file and a proxy without a password alone', () => {
    for (const argv of [['--secret-file', 'f'], ['--proxy', 'http://proxy:3128'], ['secret']])
      expect(hasSensitiveArgs(argv), argv.join(' ')).toBe(false);
  });
});
