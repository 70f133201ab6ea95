/** Small helpers for the node:http servers of the server and the relay. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP failure with a stable code, sent as `{error: {code, message}}`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Request bodies larger than this are refused with 413 before being read whole. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a request body up to `limit` bytes. A declared or actual size over
 * the limit gives 413 at once; a body that ends early gives 400.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 'NaN');
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(
      new HttpError(413, 'payload_too_large', `request bodies are limited to ${limit} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (err: HttpError): void => {
      if (done) return;
      done = true;
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        fail(
          new HttpError(413, 'payload_too_large', `request bodies are limited to ${limit} bytes`),
        );
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on('aborted', () =>
      fail(new HttpError(400, 'bad_request', 'the request body was truncated')),
    );
    req.on('error', () =>
      fail(new HttpError(400, 'bad_request', 'the request body could not be read')),
    );
  });
}

/**
 * Refuses a request body that is not declared `application/json` (415).
 * Browsers send the simple types (text/plain, forms) cross-site without
 * asking first; JSON they send only after a CORS preflight we never grant.
 */
export function requireJson(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(
      415,
      'unsupported_media_type',
      'the request body must be sent as Content-Type: application/json',
    );
  }
}

/** Parses a JSON request body, refusing anything else with 400. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'bad_request', 'the request body is not valid JSON');
  }
}

/** Sends a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Sends `{error: {code, message}}`. */
export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
}

/** Parses `HOST:PORT` (IPv6 in brackets) for --listen options. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new Error(
      `--listen must be HOST:PORT (for example 127.0.0.1:8443), got ${JSON.stringify(value)}`,
    );
  return { host: (m[1] ?? m[2]) as string, port };
}

/** The URL a listening server is reachable at. */
export function urlOf(
  protocol: 'http' | 'https',
  address: { address: string; port: number; family: string },
): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${protocol}://${host}:${address.port}`;
}

/** The peer address of a request, with IPv4-mapped IPv6 unwrapped. */
export function remoteAddressOf(req: IncomingMessage): string {
  const addr = req.socket.remoteAddress ?? '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
