import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  isRetryableRouteFailure,
  isTransient,
  isWorthWaiting,
  parseRetryAfter,
  retryMessage,
} from './retry.ts';

describe('retry decisions', () => {
  it.each([
    ['rate_limited', true],
    ['busy', true],
    ['handshake_expired', true],
    ['unreachable', true],
    ['http_504', true],
    ['invalid_secret', false],
    ['pin_mismatch', false],
    ['bad_request', false],
    ['secret_required', false],
  ])('%s transient: %s', (code, transient) => expect(isTransient(code)).toBe(transient));

  it('parses Retry-After in seconds and as a date', () => {
    expect(parseRetryAfter('7', 0)).toBe(7000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped, and honours Retry-After', () => {
    expect(backoffMs(0, undefined, () => 0)).toBe(125);
    expect(backoffMs(0, undefined, () => 1)).toBe(250);
    expect(backoffMs(3, undefined, () => 1)).toBe(2000);
    expect(backoffMs(30, undefined, () => 1)).toBe(10_000);
    expect(backoffMs(0, 5000, () => 0.5)).toBe(5000);
  });
});

describe('which route failures another round may clear', () => {
  const failure = (code: string, ...errorCodes: (string | null)[]) => ({
    code,
    reports: errorCodes.map((errorCode) => ({ errorCode })),
  });
  it.each([
    [failure('no_route', 'unreachable', 'unreachable'), true],
    [failure('no_route', 'http_404', 'unreachable'), true],
    [failure('no_route', 'http_404', 'unknown_server'), false],
    [failure('busy', 'unavailable', 'rate_limited'), true],
    [failure('pin_mismatch', 'pin_mismatch', 'unreachable'), false],
    [failure('no_route', null), false],
  ])('%j -> %s', (err, retry) => {
    expect(isRetryableRouteFailure(err)).toBe(retry);
  });

  it.each([
    [1000, 5000, true],
    [1000, 2000, true],
    [1000, 1999, false],
    [4000, 3000, false],
  ])('waits %i ms with %i ms left: %s', (wait, left, want) =>
    expect(isWorthWaiting(wait, left)).toBe(want),
  );

  it('says who limits the attempts before a 429 wait, and nothing extra otherwise', () => {
    expect(retryMessage('rate_limited', 2500, 40_000)).toBe(
      'the server limits attempts from this address; retrying in 2.5 s (deadline in 40 s)',
    );
    expect(retryMessage('unreachable', 500, 9_600)).toBe('retrying in 0.5 s (deadline in 10 s)');
  });
});
