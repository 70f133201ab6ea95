import { describe, expect, it } from 'vitest';
import { deploymentExitCode, parseRetryExitCode } from './deploy-exit.ts';

describe('--retry-exit-code', () => {
  it.each([
    [5, 1618, 1618],
    [8, 1618, 1618],
    [0, 1618, 0],
    [3, 1618, 3],
    [4, 1618, 4],
    [9, 1618, 9],
    [5, undefined, 5],
    [8, undefined, 8],
  ])('maps agent code %i with %s to %i', (code, retryAs, want) => {
    expect(deploymentExitCode(code, retryAs)).toBe(want);
  });

  it.each([
    [1618, 'win32', 1618],
    [75, 'linux', 75],
    [undefined, 'linux', undefined],
  ] as const)('accepts %s on %s', (value, platform, want) => {
    expect(parseRetryExitCode(value, platform)).toBe(want);
  });

  it.each([
    [1618, 'linux', /from 1 to 255/],
    [0, 'win32', /from 1 to/],
    [1.5, 'win32', /whole number/],
    [Number.NaN, 'win32', /whole number/],
    [4, 'win32', /one of the agent's own exit codes/],
  ] as const)('refuses %s on %s', (value, platform, message) => {
    expect(() => parseRetryExitCode(value, platform)).toThrow(message);
  });
});
