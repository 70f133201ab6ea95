import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { UserError } from '../common/errors.ts';
import { parseTrustedProxies, sourceBehind } from './forwarded.ts';

const req = (peer: string, xff?: string | string[]): IncomingMessage =>
  ({
    socket: { remoteAddress: peer },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

describe('the client address behind a load balancer', () => {
  const source = sourceBehind(parseTrustedProxies('127.0.0.1, 10.1.0.0/16, fd00::/8'));

  it('takes the address the trusted balancer names', () => {
    expect(source(req('127.0.0.1', '198.51.100.7'))).toBe('198.51.100.7');
    expect(source(req('::ffff:127.0.0.1', '198.51.100.7'))).toBe('198.51.100.7');
    expect(source(req('fd00::5', '2001:db8::1'))).toBe('2001:db8::1');
  });

  it('skips trusted hops from the right and ignores what the client wrote before them', () => {
    // The client sent "X-Forwarded-For: 203.0.113.9" itself; two trusted balancers appended.
    expect(source(req('127.0.0.1', '203.0.113.9, 198.51.100.7, 10.1.2.3'))).toBe('198.51.100.7');
    expect(source(req('127.0.0.1', ['203.0.113.9', '198.51.100.7']))).toBe('198.51.100.7');
  });

  it('ignores the header from a peer it does not trust', () => {
    expect(source(req('198.51.100.7', '203.0.113.9'))).toBe('198.51.100.7');
  });

  it('keeps the peer when the header is missing or not an address', () => {
    expect(source(req('127.0.0.1'))).toBe('127.0.0.1');
    expect(source(req('127.0.0.1', 'unknown'))).toBe('127.0.0.1');
    expect(source(req('127.0.0.1', '198.51.100.7, garbage'))).toBe('127.0.0.1');
  });

  it('refuses a --trust-proxy that is not addresses', () => {
    for (const bad of ['nginx', '10.0.0.0/33', '::1/129', '10.0.0.1/x'])
      expect(() => parseTrustedProxies(bad)).toThrow(UserError);
  });
});
