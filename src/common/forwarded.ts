/**
 * The client's address behind a load balancer. Only a peer listed with
 * `--trust-proxy` may name the client: its X-Forwarded-For is read from
 * the right, skipping the trusted hops, and the first other address is the
 * client's. From anyone else the header is ignored, so a client cannot
 * choose the address the server's guess limits count against.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { UserError } from './errors.ts';
import { remoteAddressOf } from './http.ts';

const plain = (a: string): string => (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

/** Parses `--trust-proxy` (addresses or CIDR ranges, comma-separated). */
export function parseTrustedProxies(text: string): BlockList {
  const list = new BlockList();
  for (const raw of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addr = '', bits] = raw.split('/');
    const family = isIP(addr);
    const prefix = bits === undefined ? undefined : Number(bits);
    if (
      family === 0 ||
      (prefix !== undefined &&
        (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)))
    )
      throw new UserError(
        'usage',
        `--trust-proxy: ${JSON.stringify(raw)} is not an address or CIDR range`,
        {
          hint: 'e.g. --trust-proxy 10.0.0.5,10.1.0.0/16',
        },
      );
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, prefix, type);
  }
  return list;
}

const trusted = (list: BlockList, a: string): boolean =>
  list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');

/** The client's address: the peer's, or from X-Forwarded-For when the peer is trusted. */
export function sourceBehind(list: BlockList): (req: IncomingMessage) => string {
  return (req) => {
    let source = remoteAddressOf(req);
    if (!trusted(list, source)) return source;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((h) => plain(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (isIP(hop) === 0) break;
      source = hop;
      if (!trusted(list, hop)) break;
    }
    return source;
  };
}
