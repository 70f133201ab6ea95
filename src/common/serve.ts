import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { UserError } from './errors.ts';
import { urlOf } from './http.ts';

export interface Listening {
  readonly server: Server;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/** Listens on host:port (port 0 picks one) with timeouts that stop slow or truncated requests. */
export async function listen(
  handler: RequestListener,
  where: { host: string; port: number },
  tls?: { cert: Buffer; key: Buffer },
): Promise<Listening> {
  const server: Server = tls
    ? createTlsServer({ cert: tls.cert, key: tls.key }, handler)
    : createServer(handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = urlOf(tls ? 'https' : 'http', server.address() as AddressInfo);
  return {
    server,
    url,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * Listens, or says which address could not be had and why as a usage error
 * (exit 2), never as a bug: `what` names the option that chose it.
 */
export async function listenOrExplain(
  handler: RequestListener,
  where: { host: string; port: number },
  tls: { cert: Buffer; key: Buffer } | undefined,
  what: string,
): Promise<Listening> {
  try {
    return await listen(handler, where, tls);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const at = `port ${where.port} on ${where.host}`;
    const why: Record<string, string> = {
      EADDRINUSE: `${at} is in use by another program`,
      EACCES: `${at} needs privileges (ports below 1024 do)`,
      EADDRNOTAVAIL: `no interface of this machine has the address ${where.host}`,
      ENOTFOUND: `the host name ${where.host} does not resolve`,
    };
    throw new UserError(
      'listen_failed',
      `cannot listen on ${where.host}:${where.port} for ${what}: ${why[code] ?? code}`,
      {
        cause: err,
        hint:
          code === 'EADDRINUSE'
            ? 'it is already in use: stop the program that holds it, or choose another HOST:PORT'
            : 'choose another HOST:PORT',
      },
    );
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
