/**
 * The HTTP proxy setting: its URL with the credentials taken out, the
 * host:port every message and log shows, and the Basic credentials (from
 * the URL or --proxy-auth-file) kept as SensitiveText so that they reach
 * the Proxy-Authorization header and nothing else.
 */
import { UserError } from '../common/errors.ts';
import { SensitiveText } from '../common/sensitive-text.ts';

export interface ProxySetting {
  /** The proxy URL without credentials, path or trailing slash. */
  readonly url: string;
  /** host:port, what messages and logs show. */
  readonly display: string;
  /** `user:password`, when the proxy needs Basic authentication. */
  readonly credentials?: SensitiveText;
}

/** host:port of a URL, with the scheme's default port written out. */
function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/**
 * Parses a proxy URL from `name` (a flag or an environment variable).
 * Never echoes the value: it may carry a password.
 */
export function parseProxyUrl(value: string, name: string): ProxySetting {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UserError('usage', `${name} is not a URL`, {
      hint: 'for example http://proxy.corp:3128 or http://user:password@proxy.corp:3128',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UserError('usage', `${name} must be an http or https URL (proxy ${url.host})`, {
      hint: 'for example http://proxy.corp:3128',
    });
  let credentials: SensitiveText | undefined;
  if (url.username || url.password) {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      throw new UserError('usage', `the credentials in ${name} are not valid URL encoding`, {
        hint: 'percent-encode special characters in the user and password, or use --proxy-auth-file',
      });
    }
    if (!user)
      throw new UserError('usage', `${name} carries a password but no user name`, {
        hint: 'write http://user:password@host:port, or use --proxy-auth-file',
      });
    credentials = new SensitiveText(`${user}:${password}`);
  }
  const bare = new URL(`${url.protocol}//${url.host}`);
  return {
    url: bare.origin,
    display: hostPort(bare),
    ...(credentials ? { credentials } : {}),
  };
}

/** Reads --proxy-auth-file: one line `user:password` (a final line break is dropped). */
export function parseProxyAuthFile(text: string, path: string): SensitiveText {
  const body = text.replace(/^\uFEFF/, '').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(body))
    throw new UserError('usage', `the proxy credentials file ${path} has more than one line`, {
      hint: 'write one line: user:password',
    });
  const colon = body.indexOf(':');
  if (colon <= 0)
    throw new UserError('usage', `the proxy credentials file ${path} does not hold user:password`, {
      hint: 'write one line: user:password',
    });
  return new SensitiveText(body);
}

/** The Proxy-Authorization value for Basic credentials. */
export function proxyAuthorization(credentials: SensitiveText): string {
  return `Basic ${Buffer.from(credentials.reveal(), 'utf8').toString('base64')}`;
}

/** The password alone, so that logs can redact it wherever it appears. */
export function proxyPassword(credentials: SensitiveText): string {
  const text = credentials.reveal();
  return text.slice(text.indexOf(':') + 1);
}
