import { describe, expect, it } from 'vitest';
import { editDistance, nearest } from './suggest.ts';

const KNOWN = [
  'secret-file',
  'secret',
  'server',
  'server-id',
  'server-pin',
  'state-dir',
  'proxy',
  'proxy-auth-file',
  'ca-file',
  'ca-system',
];

describe('did-you-mean for options', () => {
  it.each([
    ['secret-flie', 'secret-file'],
    ['sever', 'server'],
    ['server-pn', 'server-pin'],
    ['proxy-auth', 'proxy-auth-file'],
    ['ca-sytem', 'ca-system'],
    ['statedir', 'state-dir'],
    ['bogus', undefined],
    ['x', undefined],
  ])('%s -> %s', (typed, want) => {
    expect(nearest(typed, KNOWN)).toBe(want);
  });

  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['flie', 'file', 1],
    ['kitten', 'sitting', 3],
  ])('distance %s / %s = %i', (a, b, want) => {
    expect(editDistance(a, b)).toBe(want);
    expect(editDistance(b, a)).toBe(want);
  });
});
