/**
 * What `bootstrap-server start` reads before it opens its data: the TLS
 * files, the tunnel token, the relay URL checked; and, once it listens, the
 * host names its admin listener answers to.
 */
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { UserError } from '../common/errors.ts';
import type { ServerStartOptions } from './main.ts';

function readFileOr(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(
      'unreadable_file',
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err },
    );
  }
}

/** The TLS certificate and key, and the relay's tunnel token: read, and refused with the file named. */
export function readStartFiles(opts: ServerStartOptions): {
  tls: { cert: Buffer; key: Buffer } | undefined;
  token: string | undefined;
} {
  const tls = opts.tls
    ? {
        cert: readFileOr(opts.tls.certFile, 'TLS certificate'),
        key: readFileOr(opts.tls.keyFile, 'TLS key'),
      }
    : undefined;
  const token = opts.relayTokenFile
    ? readFileOr(opts.relayTokenFile, 'relay token file').toString('utf8').trim()
    : undefined;
  if (opts.relayUrl && !token)
    throw new UserError('usage', '--relay needs --relay-token-file', {
      hint: 'bootstrap-relay add-server prints the token',
    });
  if (opts.relayUrl) {
    try {
      new URL(opts.relayUrl);
    } catch {
      throw new UserError('usage', `--relay ${JSON.stringify(opts.relayUrl)} is not a URL`);
    }
  }
  return { tls, token };
}

/**
 * The Host header values the admin listener answers to: its own address,
 * localhost when it is on loopback, every interface address and the
 * machine name when it listens on all, and the names the administrator gave.
 */
export function hostsOf(address: AddressInfo, extra: readonly string[]): ReadonlySet<string> {
  const port = address.port;
  const hosts = new Set<string>();
  const add = (host: string): void => {
    const h = host.toLowerCase();
    const bracketed = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
    hosts.add(`${bracketed}:${port}`);
  };
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  add(address.address);
  if (wildcard) {
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) add(i.address);
    add(hostname());
  }
  if (wildcard || address.address.startsWith('127.') || address.address === '::1') add('localhost');
  for (const name of extra) {
    // A name given with its port (a reverse proxy's) is taken as it is.
    if (/:\d+$/.test(name) && !name.endsWith(']')) hosts.add(name.toLowerCase());
    else add(name);
  }
  return hosts;
}
