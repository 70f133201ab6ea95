import { describe, expect, it } from 'vitest';
import { TEST_KDF } from '../../test/support/exchange.ts';
import {
  canonicalJson,
  createHello,
  createServerIdentity,
  fromB64u,
  parseAbort,
  parseClientDetails,
  parseErrorBody,
  parseHello,
  parseJsonText,
  parseM1,
  parseM2,
  parseM3,
  parseM4,
  startRegistration,
} from './index.ts';

const b = (n: number, fill = 7): string => Buffer.alloc(n, fill).toString('base64url');
const identity = createServerIdentity();
const good = {
  hello: createHello(identity, {
    seenAs: 'intranet',
    secretRequired: false,
    kdf: TEST_KDF,
    now: 1,
  }) as unknown as Record<string, unknown>,
  m1: { v: 1, serverId: b(16), sid: b(16), cEph: b(32), Ya: b(32) },
  m2: {
    v: 1,
    hsId: b(16),
    serverKey: b(32),
    sEph: b(32),
    seenAs: 'internet',
    secretRequired: true,
    shares: [{ Yb: b(32), tagB: b(32) }],
    sig: b(64),
  },
  m3: { v: 1, hsId: b(16), share: 0, tagA: b(32), iv: b(12), ct: b(40) },
  abort: { v: 1, hsId: b(16), abort: 'no-matching-share' },
  m4: { v: 1, iv: b(12), ct: b(40) },
};
const parsers: Record<keyof typeof good, (v: unknown) => unknown> = {
  hello: parseHello,
  m1: parseM1,
  m2: parseM2,
  m3: parseM3,
  abort: parseAbort,
  m4: parseM4,
};
type Name = keyof typeof good;
const names = Object.keys(good) as Name[];

describe('strict parsers', () => {
  it.each(names)('%s accepts a well-formed message', (name) => {
    expect(() => parsers[name](good[name])).not.toThrow();
  });
  it.each(names)('%s refuses an unknown version', (name) => {
    expect(() => parsers[name]({ ...good[name], v: 2 })).toThrow(
      expect.objectContaining({ code: 'unsupported_version' }),
    );
  });
  it.each(names)('%s refuses an extra field', (name) => {
    expect(() => parsers[name]({ ...good[name], extra: 1 })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
  it.each(
    names.flatMap((name) =>
      Object.keys(good[name])
        .filter((k) => !['Ya', 'share'].includes(k))
        .map((k) => [name, k] as const),
    ),
  )('%s refuses a missing %s', (name, key) => {
    const copy: Record<string, unknown> = { ...good[name] };
    delete copy[key];
    expect(() => parsers[name](copy)).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
  const binary = names.flatMap((name) =>
    Object.entries(good[name])
      .filter(([k, v]) => typeof v === 'string' && !['seenAs', 'abort'].includes(k))
      .map(([k, v]) => [name, k, v as string] as const),
  );
  it.each(binary)(
    '%s.%s refuses a wrong length, bad base64url, padding and non-canonical spellings',
    (name, key, value) => {
      const variableLength = key === 'ct';
      const bad = [
        ...(variableLength ? [] : [value + 'AAAA', value.slice(0, -4)]),
        value.slice(0, -1) + '*',
        value + '=',
        value.replace(/[A-Za-z0-9_-]$/, '+'),
        '',
        42,
        null,
      ];
      for (const v of bad)
        expect(() => parsers[name]({ ...good[name], [key]: v }), `${String(v)}`).toThrow(
          expect.objectContaining({ code: 'bad_request' }),
        );
      // a non-canonical final character: same bytes, other trailing bits
      const last = value.at(-1) as string;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const sibling = alphabet[(alphabet.indexOf(last) ^ 1) % 64] as string;
      const variant = value.slice(0, -1) + sibling;
      if (
        value.length % 4 !== 0 &&
        Buffer.from(variant, 'base64url').equals(Buffer.from(value, 'base64url'))
      ) {
        expect(() => parsers[name]({ ...good[name], [key]: variant })).toThrow(
          expect.objectContaining({ code: 'bad_request' }),
        );
      }
    },
  );
  it('refuses non-objects and wrong types', () => {
    for (const v of [null, 1, 'x', [], true])
      expect(() => parseM1(v)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => parseM2({ ...good.m2, secretRequired: 'yes' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseM2({ ...good.m2, seenAs: 'moon' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseM2({ ...good.m2, shares: {} })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    // Shares where no secret is required answer a client that offered one: allowed.
    expect(parseM2({ ...good.m2, secretRequired: false }).shares).toHaveLength(
      good.m2.shares.length,
    );
    expect(() => parseM3({ ...good.m3, share: 16 })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseM3({ ...good.m3, share: 1.5 })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseM3({ ...good.m3, ct: b(5000) })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseAbort({ ...good.abort, abort: 'other' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseHello({ ...good.hello, kdf: { name: 'argon2', N: 1, r: 1, p: 1 } })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
  it('refuses invalid JSON text with bad_request', () => {
    expect(() => parseJsonText('{"v":1,', 'M1')).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
  it('checks the registration payload', () => {
    const details = {
      clientKey: b(32),
      pop: b(64),
      machineId: 'm',
      hostname: 'h',
      os: 'linux',
      arch: 'x64',
      agentVersion: '1',
      installId: 'i',
    };
    expect(parseClientDetails(details)).toEqual(details);
    expect(() => parseClientDetails({ ...details, hostname: 'h'.repeat(256) })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseClientDetails({ ...details, machineId: '' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => parseClientDetails({ ...details, verifyOnly: 'yes' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
  it('reads error bodies and nothing else', () => {
    expect(parseErrorBody({ error: { code: 'invalid_secret', message: 'no' } })).toEqual({
      code: 'invalid_secret',
      message: 'no',
    });
    expect(parseErrorBody({ error: 'x' })).toBeNull();
    expect(parseErrorBody('x')).toBeNull();
  });
  it('parses what the library itself produces', () => {
    expect(
      parseM1(JSON.parse(JSON.stringify(startRegistration({ serverId: identity.serverId }).m1))),
    ).toBeTruthy();
  });
});

describe('encoding', () => {
  it('canonical JSON sorts keys, has no whitespace, allows integers only', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}',
    );
    expect(() => canonicalJson({ a: 1.5 })).toThrow();
  });
  it('fromB64u checks length and alphabet', () => {
    expect(fromB64u(b(3), 'x', 3)).toHaveLength(3);
    expect(() => fromB64u('a', 'x')).toThrow();
    expect(() => fromB64u('ab+c', 'x')).toThrow();
  });
});
