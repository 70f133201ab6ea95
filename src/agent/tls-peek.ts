/**
 * Diagnostic TLS handshakes, made only after a request failed, to say in
 * words what went wrong: the dates of a certificate this machine's clock
 * rejects, or whether an http:// URL points at a TLS port. They complete a
 * handshake (or fail it) and close: no application data is ever sent, so
 * an untrusted server learns nothing but that someone connected.
 */
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';

function handshake<T>(
  url: URL,
  timeoutMs: number,
  onSecure: (socket: TLSSocket) => T,
): Promise<T | undefined> {
  return new Promise((resolve) => {
    const socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 443),
      ...(/^[\d.]+$|:/.test(url.hostname) ? {} : { servername: url.hostname }),
      // Only to read what the server presents; the connection is closed at once.
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (value: T | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.once('secureConnect', () => done(onSecure(socket)));
    socket.once('error', () => done(undefined));
    socket.once('timeout', () => done(undefined));
  });
}

/** The validity dates of the certificate the server presents, or undefined. */
export function peekCertificateDates(
  url: string,
  timeoutMs: number,
): Promise<{ validFrom: string; validTo: string } | undefined> {
  return handshake(new URL(url), timeoutMs, (socket) => {
    const cert = socket.getPeerCertificate();
    if (!cert?.valid_from) return undefined;
    return {
      validFrom: new Date(cert.valid_from).toISOString(),
      validTo: new Date(cert.valid_to).toISOString(),
    };
  });
}

/** Whether host:port of an http:// URL completes a TLS handshake (it wants https://). */
export async function speaksTls(url: string, timeoutMs: number): Promise<boolean> {
  const u = new URL(url);
  const asTls = new URL(`https://${u.hostname}:${u.port || 80}`);
  return (await handshake(asTls, timeoutMs, () => true)) === true;
}
