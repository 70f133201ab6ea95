/**
 * What "one source" is for the guess limits: an IPv4 address, or an IPv6
 * /64 (one subscriber's network: a host there can take any of its 2^64
 * addresses, so counting per address would let it escape at will). An
 * IPv4-mapped IPv6 address is its IPv4 address. Relay traffic is keyed
 * by the client address the relay saw, apart from direct traffic.
 */
import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  let text = address.split('%')[0] as string;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const bytes = (v4[2] as string).split('.').map(Number);
    tail.push(((bytes[0] as number) << 8) | (bytes[1] as number));
    tail.push(((bytes[2] as number) << 8) | (bytes[3] as number));
    text = (v4[1] as string).endsWith('::') ? (v4[1] as string) : (v4[1] as string).slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16));
  const head = parse(halves[0] as string);
  const rest = halves.length === 2 ? parse(halves[1] as string) : [];
  const fill = 8 - head.length - rest.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** The address group a source belongs to: `a.b.c.d`, or `x:x:x:x::/64`. */
export function addressGroup(address: string): string {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return address.slice(0, 64);
  const g = ipv6Groups(address);
  if (!g) return address;
  const isMapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  if (isMapped) {
    const hi = g[6] as number;
    const lo = g[7] as number;
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}

/**
 * The wider network a source belongs to: an IPv4 /24, an IPv6 /48 (what one
 * subscriber can be given). One network may hold only a share of the
 * open-handshake table, however many /64s it spreads over.
 */
export function networkGroup(address: string): string {
  const group = addressGroup(address);
  if (isIP(group) === 4) return `${group.split('.').slice(0, 3).join('.')}.0/24`;
  const m = /^([0-9a-f]+:[0-9a-f]+:[0-9a-f]+):[0-9a-f]+::\/64$/.exec(group);
  return m ? `${m[1] as string}::/48` : group;
}

/** The key a network's share of the table is counted under. */
export function networkKey(channel: { route: 'direct' | 'relay'; source: string }): string {
  return `${channel.route}:net:${networkGroup(channel.source)}`;
}

/** The key one source's limits are counted under. */
export function sourceKey(channel: { route: 'direct' | 'relay'; source: string }): string {
  return `${channel.route}:${addressGroup(channel.source)}`;
}
