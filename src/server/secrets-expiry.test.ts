import { describe, expect, it } from 'vitest';
import {
  describeLimits,
  limitsFromBody,
  noSecretWarning,
  parseExpiry,
  parseMaxUses,
} from './secrets-expiry.ts';
import type { SecretRow } from './store.ts';

const NOW = new Date('2026-12-01T00:00:00.000Z');

describe('parseExpiry', () => {
  it.each([
    ['30d', '2026-12-31T00:00:00.000Z'],
    ['12h', '2026-12-01T12:00:00.000Z'],
    ['90m', '2026-12-01T01:30:00.000Z'],
    [' 1d ', '2026-12-02T00:00:00.000Z'],
    ['2027-01-31', '2027-01-31T00:00:00.000Z'],
    ['2027-01-31T18:00:00Z', '2027-01-31T18:00:00.000Z'],
    ['2027-01-31T18:00:00+02:00', '2027-01-31T16:00:00.000Z'],
  ])('%j expires at %s', (text, iso) => {
    expect(parseExpiry(text, NOW)).toBe(iso);
  });

  it.each([
    ['0d', /more than 0/],
    ['30', /neither a duration nor a date/],
    ['30 days', /neither a duration nor a date/],
    ['-1d', /neither a duration nor a date/],
    ['2026-11-30', /already past/],
    ['2026-13-40', /not a valid date/],
    ['2040-01-01', /ten years/],
  ])('%j is refused (%s)', (text, why) => {
    expect(() => parseExpiry(text, NOW)).toThrow(why);
  });
});

describe('parseMaxUses', () => {
  it.each([
    ['1', 1],
    [' 25 ', 25],
    [1000000, 1000000],
  ])('%j is %d', (value, n) => expect(parseMaxUses(value)).toBe(n));
  it.each([['0'], [0], ['-1'], ['1.5'], [1.5], ['ten'], [null], [1000001]])('%j is refused', (v) =>
    expect(() => parseMaxUses(v)).toThrow(/whole number from 1/),
  );
});

describe('limitsFromBody', () => {
  it('reads both, either or none', () => {
    expect(limitsFromBody({ expires: '1d', maxUses: 3 }, NOW)).toEqual({
      expiresAt: '2026-12-02T00:00:00.000Z',
      maxUses: 3,
    });
    expect(limitsFromBody({ expires: '', maxUses: null }, NOW)).toEqual({});
    expect(() => limitsFromBody({ expires: 5 }, NOW)).toThrow(/must be text/);
  });
});

const row = (over: Partial<SecretRow>): SecretRow => ({
  id: 'sec_1',
  label: 'x',
  createdAt: NOW.toISOString(),
  lastUsedAt: null,
  useCount: 0,
  weak: false,
  expiresAt: null,
  maxUses: null,
  state: 'active',
  ...over,
});

describe('noSecretWarning', () => {
  it.each([
    [
      'all',
      [],
      /^nobody can register: the mode "all" needs a secret and none is active; add one with/,
    ],
    ['internet', [], /^no internet client can register/],
    ['all', [row({ state: 'expired' })], /none is active \(they are expired or used up\)/],
    ['none', [], null],
    ['all', [row({}), row({ state: 'used_up' })], null],
  ] as const)('mode %s with %j', (mode, secrets, expected) => {
    const w = noSecretWarning(mode, secrets);
    if (expected === null) expect(w).toBeNull();
    else expect(w).toMatch(expected);
  });
});

describe('describeLimits', () => {
  it('says the state and both limits', () => {
    expect(describeLimits(row({}))).toBe('');
    expect(
      describeLimits(
        row({ state: 'used_up', useCount: 2, maxUses: 2, expiresAt: '2027-01-01T00:00:00.000Z' }),
      ),
    ).toBe('USED UP, expires 2027-01-01T00:00:00.000Z, 2 of 2 uses');
  });
});
