import { describe, expect, it } from 'vitest';
import { DEFAULT_KDF, Secret, generateSecretText, secretWeaknesses, validateKdf } from './index.ts';

describe('secret preparation', () => {
  it.each([
    ['abc\n', 'abc'],
    ['abc\r\n', 'abc'],
    ['abc\n\n', 'abc\n'],
    ['abc\r', 'abc\r'],
    [' abc ', ' abc '],
  ])('from a file, %j becomes %j', (raw, want) => {
    expect(Secret.from(raw, { fromFile: true }).use().toString('utf8')).toBe(want);
  });
  it('keeps a newline typed on the command line', () => {
    expect(Secret.from('abc\n').use().toString('utf8')).toBe('abc\n');
  });
  it('normalizes to NFC', () => {
    expect(Secret.from('e\u0301').use().toString('utf8')).toBe('\u00e9');
  });
  it('refuses an empty secret', () => {
    expect(() => Secret.from('\n', { fromFile: true })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
});

describe('secret strength', () => {
  it.each([
    ['Abcdefghi1', []],
    ['abcdefghi1', ['an uppercase letter']],
    ['ABCDEFGHI1', ['a lowercase letter']],
    ['Abcdefghij', ['a digit']],
    ['Abc1', ['at least 10 characters']],
    ['Ünïcödé-Pässwörd-9', []],
  ])('%s lacks %j', (text, missing) => {
    expect(secretWeaknesses(Secret.from(text))).toEqual(missing);
  });
  it('generates strong secrets', () => {
    for (let i = 0; i < 50; i++) {
      const text = generateSecretText();
      expect(text).toHaveLength(24);
      expect(secretWeaknesses(Secret.from(text))).toEqual([]);
    }
  });
});

describe('kdf parameters', () => {
  it.each([
    [{ ...DEFAULT_KDF }, null],
    [{ ...DEFAULT_KDF, N: 2 ** 14 }, null],
    [{ ...DEFAULT_KDF, N: 2 ** 20, r: 2 }, null],
    [{ ...DEFAULT_KDF, N: 2 ** 20 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, N: 2 ** 13 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, N: 2 ** 21 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, N: 3 * 2 ** 14 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, N: 2 ** 20, r: 16 }, 'weak_kdf'],
    // p costs time without memory: bounded so a server cannot make the client burn CPU.
    [{ ...DEFAULT_KDF, p: 4 }, null],
    [{ ...DEFAULT_KDF, p: 5 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, N: 2 ** 20, r: 2, p: 4 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, N: 2 ** 20, r: 2, p: 2 }, null],
    [{ ...DEFAULT_KDF, p: 1.5 }, 'weak_kdf'],
    [{ ...DEFAULT_KDF, r: 0 }, 'weak_kdf'],
  ])('%j -> %s', (kdf, code) => {
    if (code === null) expect(() => validateKdf(kdf)).not.toThrow();
    else expect(() => validateKdf(kdf)).toThrow(expect.objectContaining({ code }));
  });
});
