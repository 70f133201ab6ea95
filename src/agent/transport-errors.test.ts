import { describe, expect, it } from 'vitest';
import { parseProxyUrl } from './proxy.ts';
import { translateError } from './transport-errors.ts';

const PROXY = parseProxyUrl('http://alice:s3cret-pw@proxy.corp:3128', '--proxy');
const URL_ = 'https://mgmt.corp:8443/v1/hello';
const err = (fields: Record<string, unknown>, cause?: unknown): Error =>
  Object.assign(
    new Error(typeof fields.message === 'string' ? fields.message : 'failed'),
    fields,
    cause ? { cause } : {},
  );

describe('translating transport failures into what the user must do', () => {
  it.each([
    [
      'a 407 from the proxy',
      err({ code: 'UND_ERR_ABORTED', message: 'Proxy response (407) !== 200 when HTTP Tunneling' }),
      'proxy_auth',
      'the proxy proxy.corp:3128 asked for credentials (407 proxy authentication required)',
    ],
    [
      'a 401 from the proxy',
      err({ code: 'UND_ERR_ABORTED', message: 'Proxy response (401) !== 200 when HTTP Tunneling' }),
      'proxy_auth',
      'the proxy proxy.corp:3128 did not accept the credentials (401 unauthorized)',
    ],
    [
      'a 403 from the proxy',
      err({ code: 'UND_ERR_ABORTED', message: 'Proxy response (403) !== 200 when HTTP Tunneling' }),
      'proxy_refused',
      'the proxy proxy.corp:3128 refused to connect to mgmt.corp:8443 (HTTP 403)',
    ],
    [
      'the proxy refusing the connection',
      err({ code: 'ECONNREFUSED', address: '10.0.0.1', port: 3128 }),
      'unreachable',
      'the proxy proxy.corp:3128 refused the connection',
    ],
    [
      'the proxy name not resolving',
      err({ code: 'ENOTFOUND', hostname: 'proxy.corp' }),
      'unreachable',
      'the name of the proxy proxy.corp:3128 could not be resolved',
    ],
    [
      'an expired certificate',
      err({ code: 'CERT_HAS_EXPIRED' }),
      'tls_clock',
      /^the TLS certificate of mgmt\.corp:8443 is expired by this machine's clock/,
    ],
    [
      'an unknown CA',
      err({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
      'tls',
      'the TLS certificate of mgmt.corp:8443 is signed by a CA this agent does not trust (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    ],
    [
      'a name mismatch',
      err({
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        cert: { subjectaltname: 'DNS:a.corp, DNS:b.corp' },
      }),
      'tls_name',
      'the TLS certificate of mgmt.corp:8443 is for a.corp, b.corp, not mgmt.corp',
    ],
    [
      'plain HTTP answering TLS',
      err({ message: 'fetch failed' }, err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' })),
      'wrong_scheme',
      /answered in plain HTTP, not TLS/,
    ],
  ])('%s', (_name, error, code, message) => {
    const t = translateError(error, URL_, PROXY);
    expect(t.code).toBe(code);
    if (typeof message === 'string') expect(t.message).toBe(message);
    else expect(t.message).toMatch(message);
    expect(t.message).not.toContain('s3cret-pw');
    expect(t.message).not.toContain('alice');
  });

  it('without a proxy, a refusal is the server’s', () => {
    const t = translateError(err({ code: 'ECONNREFUSED', port: 8443 }), URL_);
    expect(t.message).toBe('mgmt.corp:8443 refused the connection');
  });
});

describe('the proxy URL', () => {
  it('keeps the credentials apart and shows host:port', () => {
    expect(PROXY.url).toBe('http://proxy.corp:3128');
    expect(PROXY.display).toBe('proxy.corp:3128');
    expect(PROXY.credentials?.reveal()).toBe('alice:s3cret-pw');
    expect(JSON.stringify(PROXY)).not.toContain('s3cret-pw');
    const encoded = parseProxyUrl('http://dom%5Cuser:p%40ss%3Aw@10.0.0.1', 'HTTPS_PROXY');
    expect(encoded.credentials?.reveal()).toBe('dom\\user:p@ss:w');
    expect(encoded.display).toBe('10.0.0.1:80');
  });

  it.each([
    ['not a url with s3cret-pw', /is not a URL/],
    ['ftp://u:s3cret-pw@host:21', /must be an http or https URL \(proxy host\)/],
    ['http://:s3cret-pw@host:3128', /carries a password but no user name/],
  ])('%s is refused without echoing it', (value, why) => {
    let message = '';
    try {
      parseProxyUrl(value, '--proxy');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(why);
    expect(message).not.toContain('s3cret-pw');
  });
});
