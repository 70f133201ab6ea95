/**
 * The agent's only HTTP client: undici through one dispatcher (direct, or
 * the proxy from --proxy / HTTPS_PROXY with NO_PROXY), with --ca-file added
 * to the trusted roots. undici's errors are translated here, once, into
 * TransportError kinds.
 */
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, request } from 'undici';
import type { Dispatcher } from 'undici';

export type FailureKind =
  'refused' | 'dns' | 'timeout' | 'reset' | 'tls' | 'aborted' | 'bad_reply' | 'proxy';

/** A network-level failure: no HTTP answer was read. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HttpReply {
  readonly status: number;
  readonly retryAfter?: string;
  /** Parsed JSON, or undefined when the body was not JSON. */
  readonly json: unknown;
}

export interface Transport {
  send(
    method: 'GET' | 'POST',
    url: string,
    body: unknown,
    opts: { signal: AbortSignal; timeoutMs: number },
  ): Promise<HttpReply>;
  close(): Promise<void>;
}

export interface TransportOptions {
  readonly proxy?: string;
  readonly noProxy?: string;
  readonly caPem?: string;
  readonly connectTimeoutMs: number;
  /** The local address to connect from (benchmarks that stand in for many machines). */
  readonly localAddress?: string;
}

const MAX_REPLY_BYTES = 256 * 1024;
const TLS_CODES =
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_|ERR_SSL_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown; name?: unknown }).code ?? (e as { name?: unknown }).name;
    if (typeof c === 'string') codes.push(c);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** Maps whatever undici or the socket threw to a TransportError. */
export function translateError(err: unknown, url: string): TransportError {
  if (err instanceof TransportError) return err;
  const codes = codesOf(err);
  const has = (re: RegExp): boolean => codes.some((c) => re.test(c));
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (has(/^ECONNREFUSED$/))
    return new TransportError('refused', `${host} refused the connection`, { cause: err });
  if (has(/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/))
    return new TransportError('dns', `the name ${host} could not be resolved`, { cause: err });
  if (has(TLS_CODES))
    return new TransportError(
      'tls',
      `TLS to ${host} failed: ${codes.find((c) => TLS_CODES.test(c)) ?? 'untrusted'}`,
      { cause: err },
    );
  if (
    has(
      /^(UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|TimeoutError|ETIMEDOUT)$/,
    )
  )
    return new TransportError('timeout', `${host} did not answer in time`, { cause: err });
  if (has(/^(AbortError|UND_ERR_ABORTED)$/))
    return new TransportError('aborted', `the request to ${host} was abandoned`, { cause: err });
  if (has(/^(UND_ERR_PROXY|ERR_PROXY)/) || /proxy/i.test((err as Error)?.message ?? ''))
    return new TransportError('proxy', `the proxy failed to reach ${host}`, { cause: err });
  if (
    has(
      /^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED|ENETUNREACH|EHOSTUNREACH|ENETDOWN|EADDRNOTAVAIL)$/,
    )
  )
    return new TransportError(
      'reset',
      `the connection to ${host} failed (${codes[0] ?? 'reset'})`,
      { cause: err },
    );
  return new TransportError(
    'reset',
    `the request to ${host} failed: ${codes[0] ?? (err as Error)?.message ?? 'unknown error'}`,
    { cause: err },
  );
}

function dispatcherFor(opts: TransportOptions): Dispatcher {
  // Always an explicit trust list: the bundled roots plus --ca-file. Node's
  // default would also trust NODE_EXTRA_CA_CERTS, and NODE_TLS_REJECT_UNAUTHORIZED=0
  // would switch checking off; an environment variable must not decide whom
  // an agent holding the secret trusts.
  const ca = opts.caPem ? [...rootCertificates, opts.caPem] : [...rootCertificates];
  const tls = { ca, rejectUnauthorized: true };
  // No TCP keep-alive: undici sets it before the socket connects, which
  // wine's socket layer refuses (every connection fails with UNKNOWN), and a
  // registration that lasts seconds has no use for it. HTTP connection reuse
  // (keepAliveTimeout below) is a different thing and stays on.
  const connect = {
    timeout: opts.connectTimeoutMs,
    keepAlive: false,
    ...tls,
  };
  if (opts.proxy) {
    return new EnvHttpProxyAgent({
      httpProxy: opts.proxy,
      httpsProxy: opts.proxy,
      ...(opts.noProxy ? { noProxy: opts.noProxy } : {}),
      connect,
      requestTls: tls,
      proxyTls: tls,
    });
  }
  return new Agent({
    connect,
    keepAliveTimeout: 10_000,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
}

/** Builds the transport; the caller closes it. */
export function createTransport(opts: TransportOptions): Transport {
  const dispatcher = dispatcherFor(opts);
  return {
    async send(method, url, body, { signal, timeoutMs }) {
      const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
      const combined = AbortSignal.any([signal, timeout]);
      try {
        const res = await request(url, {
          method,
          dispatcher,
          signal: combined,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length;
          if (size > MAX_REPLY_BYTES) {
            res.body.destroy();
            throw new TransportError(
              'bad_reply',
              `the reply from ${new URL(url).host} is larger than ${MAX_REPLY_BYTES} bytes`,
            );
          }
          chunks.push(chunk as Buffer);
        }
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          json = undefined;
        }
        const retryAfter = res.headers['retry-after'];
        return {
          status: res.statusCode,
          json,
          ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
        };
      } catch (err) {
        if (timeout.aborted && !signal.aborted)
          throw new TransportError(
            'timeout',
            `${new URL(url).host} did not answer within ${timeoutMs} ms`,
            { cause: err },
          );
        throw translateError(err, url);
      }
    },
    // destroy, not close: a connect still pending on a silent route must not keep the process alive.
    close: () => dispatcher.destroy(),
  };
}
