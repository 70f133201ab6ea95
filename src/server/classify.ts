import { BlockList, isIP } from 'node:net';

/** Loopback and the private ranges: the default intranet. */
export const DEFAULT_INTRANET = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

/** Parses CIDR ranges into a matcher; throws with the bad range named. */
export function parseIntranet(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of ranges) {
    const range = raw.trim();
    const m = /^([^/]+)\/(\d{1,3})$/.exec(range);
    const family = m ? isIP(m[1] as string) : 0;
    const prefix = m ? Number(m[2]) : NaN;
    if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new Error(
        `--intranet: ${JSON.stringify(range)} is not a CIDR range such as 10.0.0.0/8`,
      );
    }
    list.addSubnet(m[1] as string, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/**
 * How the server sees a request: through the relay tunnel is always
 * internet; a direct request is intranet only from an intranet address.
 * Nothing the client says counts.
 */
export function classify(
  channel: { route: 'direct' | 'relay'; source: string },
  intranet: BlockList,
): 'intranet' | 'internet' {
  if (channel.route === 'relay') return 'internet';
  const family = isIP(channel.source);
  if (family === 0) return 'internet';
  return intranet.check(channel.source, family === 4 ? 'ipv4' : 'ipv6') ? 'intranet' : 'internet';
}

/** Whether the mode asks a client seen this way for a secret. */
export function isSecretRequired(
  mode: 'none' | 'internet' | 'all',
  seenAs: 'intranet' | 'internet',
): boolean {
  return mode === 'all' || (mode === 'internet' && seenAs === 'internet');
}
