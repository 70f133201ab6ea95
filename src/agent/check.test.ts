import { describe, expect, it } from 'vitest';
import { probeFailureCode } from './check.ts';
import type { RouteReport } from './probe.ts';

const report = (errorCode: string | null): RouteReport => ({
  name: 'direct',
  url: 'http://x',
  reachable: false,
  latencyMs: null,
  seenAs: null,
  secretRequired: null,
  error: 'e',
  errorCode,
});

describe('probeFailureCode: what a route that failed hello means for the exit code', () => {
  it.each([
    ['pin_mismatch', 'pin_mismatch'],
    ['tls', 'tls'],
    ['http_404', 'config'],
    ['unknown_server', 'config'],
    ['wrong_scheme', 'wrong_scheme'],
    ['proxy_auth', 'proxy_auth'],
    ['proxy_refused', 'proxy_refused'],
    ['unavailable', 'busy'],
    ['rate_limited', 'busy'],
    ['unreachable', 'no_route'],
    ['timeout', 'no_route'],
    ['bad_reply', 'no_route'],
    [null, 'no_route'],
  ])('%s -> %s', (code, want) => {
    expect(probeFailureCode(report(code))).toBe(want);
  });
});
