/**
 * undici's and the socket's errors, translated once into TransportError:
 * a kind (what to do: retry or not), a stable code, and a message in words
 * that names who failed (the server, or the proxy in front of it).
 */
import type { ProxySetting } from './proxy.ts';

export type FailureKind =
  | 'refused'
  | 'dns'
  | 'timeout'
  | 'reset'
  | 'tls'
  | 'aborted'
  | 'bad_reply'
  | 'proxy'
  | 'proxy_auth'
  | 'scheme';

/** A network-level failure: no HTTP answer was read. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  /** The stable failure code a route report carries. */
  readonly code: string;
  readonly hint: string | undefined;
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown; code?: string; hint?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = options?.code ?? defaultCode(kind);
    this.hint = options?.hint;
  }
}

function defaultCode(kind: FailureKind): string {
  if (kind === 'tls' || kind === 'proxy_auth') return kind;
  if (kind === 'scheme') return 'wrong_scheme';
  return 'unreachable';
}

const TLS_CODES =
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_|ERR_SSL_|ERR_OSSL_|HOSTNAME_MISMATCH)/;
const UNKNOWN_CA =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_UNTRUSTED)$/;
/** What OpenSSL says when the other side answers TLS with plain HTTP. */
const PLAIN_HTTP =
  /^(ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_HTTP_REQUEST|ERR_SSL_PACKET_LENGTH_TOO_LONG)$/;

interface ErrFields {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  port?: unknown;
  address?: unknown;
  hostname?: unknown;
  reason?: unknown;
  cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } };
  cause?: unknown;
}

function chainOf(err: unknown): ErrFields[] {
  const out: ErrFields[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    out.push(e);
    e = (e as ErrFields).cause;
  }
  return out;
}

function codesOf(chain: readonly ErrFields[]): string[] {
  const codes: string[] = [];
  for (const e of chain) {
    const c = e.code ?? e.name;
    if (typeof c === 'string') codes.push(c);
  }
  return codes;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Whether the failing socket was the one to the proxy (not the server behind it). */
function atProxy(chain: readonly ErrFields[], proxy: ProxySetting | undefined): boolean {
  if (!proxy) return false;
  const p = new URL(proxy.url);
  const port = Number(p.port || (p.protocol === 'https:' ? 443 : 80));
  return chain.some(
    (e) =>
      e.port === port || (e.hostname === p.hostname && /^(ENOTFOUND|EAI_)/.test(String(e.code))),
  );
}

/** Names on the certificate that a name mismatch reports. */
function certNames(chain: readonly ErrFields[]): string | undefined {
  for (const e of chain) {
    const alt = e.cert?.subjectaltname;
    if (typeof alt === 'string' && alt)
      return alt.replace(/\b(DNS|IP Address):/g, '').replace(/,\s*/g, ', ');
    const cn = e.cert?.subject?.CN;
    if (typeof cn === 'string') return cn;
  }
  return undefined;
}

function tlsError(
  code: string,
  host: string,
  chain: readonly ErrFields[],
  err: unknown,
): TransportError {
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return new TransportError(
      'tls',
      `the TLS certificate of ${host} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} by this machine's clock (now ${new Date().toISOString()})`,
      {
        cause: err,
        code: 'tls_clock',
        hint: "check this machine's date, time and time zone; if they are right, the server's certificate must be renewed",
      },
    );
  if (UNKNOWN_CA.test(code))
    return new TransportError(
      'tls',
      `the TLS certificate of ${host} is signed by a CA this agent does not trust (${code})`,
      {
        cause: err,
        hint: 'give the CA that signed the server certificate with --ca-file PEM, or trust the operating system store with --ca-system',
      },
    );
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    const names = certNames(chain);
    return new TransportError(
      'tls',
      `the TLS certificate of ${host} is for ${names ?? 'another name'}, not ${new URL(`https://${host}`).hostname}`,
      {
        cause: err,
        code: 'tls_name',
        hint: `use the name the certificate is issued for in --server (or --relay)${names ? `: ${names}` : ''}, or have the certificate reissued for this name`,
      },
    );
  }
  return new TransportError('tls', `TLS to ${host} failed: ${code}`, {
    cause: err,
    hint: 'check --ca-file or --ca-system, and that the server presents its certificate chain',
  });
}

/** Maps whatever undici or the socket threw to a TransportError. */
export function translateError(err: unknown, url: string, proxy?: ProxySetting): TransportError {
  if (err instanceof TransportError) return err;
  const chain = chainOf(err);
  const codes = codesOf(chain);
  const has = (re: RegExp): boolean => codes.some((c) => re.test(c));
  const host = hostOf(url);
  const message = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).join(' | ');
  const viaProxy = atProxy(chain, proxy);
  const proxyStatus = /Proxy response \((\d{3})\)/.exec(message);
  if (proxy && proxyStatus) {
    const status = Number(proxyStatus[1]);
    // 407 asks for credentials; some proxies (tinyproxy) answer wrong ones with 401.
    if (status === 407 || status === 401)
      return new TransportError(
        'proxy_auth',
        status === 407
          ? `the proxy ${proxy.display} asked for credentials (407 proxy authentication required)`
          : `the proxy ${proxy.display} did not accept the credentials (401 unauthorized)`,
        {
          cause: err,
          hint: proxy.credentials
            ? 'check the proxy user and password (in --proxy-auth-file or the proxy URL)'
            : 'give the proxy user and password with --proxy-auth-file FILE (one line user:password) or in the proxy URL',
        },
      );
    return new TransportError(
      'proxy',
      `the proxy ${proxy.display} refused to connect to ${host} (HTTP ${status})`,
      { cause: err, code: status >= 500 ? 'unreachable' : 'proxy_refused' },
    );
  }
  if (has(/^ECONNREFUSED$/))
    return new TransportError(
      'refused',
      viaProxy && proxy
        ? `the proxy ${proxy.display} refused the connection`
        : `${host} refused the connection`,
      { cause: err },
    );
  if (has(/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/))
    return new TransportError(
      'dns',
      viaProxy && proxy
        ? `the name of the proxy ${proxy.display} could not be resolved`
        : `the name ${host} could not be resolved`,
      { cause: err },
    );
  const plain = codes.find((c) => PLAIN_HTTP.test(c));
  if (plain && url.startsWith('https:'))
    return new TransportError(
      'scheme',
      `${host} answered in plain HTTP, not TLS: its URL starts with http://, not https://`,
      { cause: err, hint: `use http://${host} (the server speaks plain HTTP), with --server-pin` },
    );
  const tlsCode = codes.find((c) => TLS_CODES.test(c));
  if (tlsCode) return tlsError(tlsCode, host, chain, err);
  if (
    has(
      /^(UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|TimeoutError|ETIMEDOUT)$/,
    )
  )
    return new TransportError(
      'timeout',
      viaProxy && proxy
        ? `the proxy ${proxy.display} did not answer in time`
        : `${host} did not answer in time`,
      { cause: err },
    );
  if (has(/^(AbortError|UND_ERR_ABORTED)$/))
    return new TransportError('aborted', `the request to ${host} was abandoned`, { cause: err });
  if (proxy && (has(/^(UND_ERR_PROXY|ERR_PROXY)/) || /proxy/i.test(message)))
    return new TransportError('proxy', `the proxy ${proxy.display} failed to reach ${host}`, {
      cause: err,
    });
  if (
    has(
      /^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED|ENETUNREACH|EHOSTUNREACH|ENETDOWN|EADDRNOTAVAIL)$/,
    )
  )
    return new TransportError(
      'reset',
      `the connection to ${viaProxy && proxy ? `the proxy ${proxy.display}` : host} failed (${codes[0] ?? 'reset'})`,
      { cause: err },
    );
  return new TransportError(
    'reset',
    `the request to ${host} failed: ${codes[0] ?? (err as Error)?.message ?? 'unknown error'}`,
    { cause: err },
  );
}
