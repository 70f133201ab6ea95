/**
 * The agent's only HTTP client: undici through one dispatcher (direct, or
 * the proxy from --proxy / HTTPS_PROXY with NO_PROXY, with its Basic
 * credentials as Proxy-Authorization), trusting exactly the roots it is
 * given. undici's errors are translated here, once, into TransportError
 * kinds (see transport-errors.ts).
 */
import { rootCertificates } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { Agent, EnvHttpProxyAgent } from 'undici';
import type { Dispatcher } from 'undici';
import { proxyAuthorization } from './proxy.ts';
import type { ProxySetting } from './proxy.ts';
import { peekCertificateDates, speaksTls } from './tls-peek.ts';
import { TransportError, translateError } from './transport-errors.ts';

export { TransportError, translateError } from './transport-errors.ts';
export type { FailureKind } from './transport-errors.ts';

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
  readonly proxy?: ProxySetting;
  readonly noProxy?: string;
  /** Every trusted root (the bundled ones, --ca-system, --ca-file: see trust.ts); default the bundled ones. */
  readonly ca?: readonly string[];
  readonly connectTimeoutMs: number;
  /** The local address to connect from (benchmarks that stand in for many machines). */
  readonly localAddress?: string;
}

const MAX_REPLY_BYTES = 256 * 1024;
function dispatcherFor(opts: TransportOptions): Dispatcher {
  // Always an explicit trust list. Node's default would also trust
  // NODE_EXTRA_CA_CERTS, and NODE_TLS_REJECT_UNAUTHORIZED=0 would switch
  // checking off; an environment variable must not decide whom an agent
  // holding the secret trusts.
  const tls = { ca: [...(opts.ca ?? rootCertificates)], rejectUnauthorized: true };
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
      httpProxy: opts.proxy.url,
      httpsProxy: opts.proxy.url,
      ...(opts.proxy.credentials ? { token: proxyAuthorization(opts.proxy.credentials) } : {}),
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

const PEEK_MS = 2000;

/**
 * Adds what a diagnostic handshake can tell (direct connections only): the
 * certificate's dates for a clock failure, and https:// for an http:// URL
 * whose port speaks TLS.
 */
async function explain(
  err: TransportError,
  url: string,
  opts: TransportOptions,
): Promise<TransportError> {
  if (opts.proxy) return err;
  const host = new URL(url).host;
  if (err.code === 'tls_clock') {
    const dates = await peekCertificateDates(url, PEEK_MS);
    if (!dates) return err;
    return new TransportError(
      'tls',
      `${err.message}; the certificate is valid from ${dates.validFrom} to ${dates.validTo}`,
      { cause: err.cause, code: err.code, ...(err.hint ? { hint: err.hint } : {}) },
    );
  }
  if (err.kind === 'reset' && url.startsWith('http:') && (await speaksTls(url, PEEK_MS)))
    return new TransportError(
      'scheme',
      `${host} speaks TLS, not plain HTTP: its URL starts with https://, not http://`,
      { cause: err, hint: `use https://${host}` },
    );
  return err;
}

/**
 * undici's HTTP parser is WebAssembly. V8 compiles it with Liftoff, then
 * recompiles its hot functions with TurboFan in the background, which a
 * registration's handful of small replies never profits from, and the
 * process cannot exit before such a compile ends (50 to 70 ms after the
 * report, seen with strace). So the parser stays on Liftoff. This must
 * run before undici compiles the parser (at its first connection), and no
 * earlier than it must: V8 rejects the code cache of Node's own modules
 * once its flags differ from the ones the cache was made with, and compiles
 * the modules loaded after that from source (as `--liftoff-only` in the
 * executable's `execArgv` did: about 20 ms of CPU on every start).
 * Without dynamic tiering but with tier-up, V8 would compile the whole
 * module with TurboFan instead (about 20 MiB): hence both flags.
 */
function keepWasmOnLiftoff(): void {
  setFlagsFromString('--no-wasm-tier-up');
  setFlagsFromString('--no-wasm-dynamic-tiering');
}

/** Builds the transport; the caller closes it. */
export function createTransport(opts: TransportOptions): Transport {
  keepWasmOnLiftoff();
  const dispatcher = dispatcherFor(opts);
  return {
    async send(method, url, body, { signal, timeoutMs }) {
      const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
      const combined = AbortSignal.any([signal, timeout]);
      try {
        // One turn of the event loop first: undici's pool takes a connection
        // back (its 'drain') a turn after the reply was read, and a request
        // sent before that goes out on a new connection, as register/finish
        // did, right after register/start: on a real network a TCP and a
        // TLS handshake more. (One connection per origin would avoid it too,
        // but then a route's probe could wait behind another's, hung, on the
        // same origin.)
        await new Promise<void>((resolve) => setImmediate(resolve));
        const target = new URL(url);
        // The dispatcher's own request(): the executable's bundle loads
        // only the dispatchers, not undici's fetch, WebSocket and mocks.
        const res = await dispatcher.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method,
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
        if (signal.aborted && !(err instanceof TransportError))
          throw new TransportError(
            'aborted',
            (signal.reason as Error | undefined)?.message === 'deadline'
              ? `the deadline ran out before ${new URL(url).host} answered`
              : `the request to ${new URL(url).host} was stopped`,
            { cause: err },
          );
        if (timeout.aborted && !signal.aborted)
          throw new TransportError(
            'timeout',
            `${new URL(url).host} did not answer within ${timeoutMs} ms`,
            { cause: err },
          );
        throw await explain(translateError(err, url, opts.proxy), url, opts);
      }
    },
    // destroy, not close: a connect still pending on a silent route must not keep the process alive.
    close: () => dispatcher.destroy(),
  };
}
