import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { trustedRoots } from './trust.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
const files =
  (map: Record<string, string>) =>
  (p: string): string => {
    const text = map[p];
    if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return text;
  };

describe('the trusted roots', () => {
  it('are the bundled roots alone by default, plus --ca-file', () => {
    expect(trustedRoots({ caSystem: false, platform: 'linux', readFile: files({}) })).toEqual([
      ...rootCertificates,
    ]);
    const withFile = trustedRoots({
      caFile: '/ca.pem',
      caSystem: false,
      platform: 'linux',
      readFile: files({ '/ca.pem': PEM }),
    });
    expect(withFile).toEqual([...rootCertificates, PEM]);
  });

  it('with --ca-system take the runtime store where the runtime has one', () => {
    const roots = trustedRoots({
      caSystem: true,
      platform: 'win32',
      readFile: files({}),
      systemStore: () => ['SYSTEM-ROOT'],
    });
    expect(roots).toEqual([...rootCertificates, 'SYSTEM-ROOT']);
  });

  it('without a runtime store: the Linux bundle (SSL_CERT_FILE first), elsewhere a clear error', () => {
    const bundle = `${PEM}\n${PEM}\n`;
    expect(
      trustedRoots({
        caSystem: true,
        sslCertFile: '/custom.crt',
        platform: 'linux',
        readFile: files({ '/custom.crt': bundle }),
      }).slice(rootCertificates.length),
    ).toEqual([PEM, PEM]);
    expect(
      trustedRoots({
        caSystem: true,
        platform: 'linux',
        readFile: files({ '/etc/pki/tls/certs/ca-bundle.crt': bundle }),
      }),
    ).toHaveLength(rootCertificates.length + 2);
    expect(() => trustedRoots({ caSystem: true, platform: 'linux', readFile: files({}) })).toThrow(
      /found no system certificate bundle/,
    );
    expect(() => trustedRoots({ caSystem: true, platform: 'win32', readFile: files({}) })).toThrow(
      /--ca-system needs the packaged agent on win32/,
    );
  });

  it('refuses an unreadable or empty --ca-file as a usage error', () => {
    expect(() =>
      trustedRoots({ caFile: '/none', caSystem: false, platform: 'linux', readFile: files({}) }),
    ).toThrow(/cannot read --ca-file \/none: ENOENT/);
    expect(() =>
      trustedRoots({
        caFile: '/x',
        caSystem: false,
        platform: 'linux',
        readFile: files({ '/x': 'hello' }),
      }),
    ).toThrow(/holds no PEM certificate/);
  });
});
