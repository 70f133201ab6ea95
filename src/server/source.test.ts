import { describe, expect, it } from 'vitest';
import { addressGroup, networkGroup, sourceKey } from './source.ts';

describe('one source for the guess limits', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::ffff:c000:207', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:0:0:1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
  ])('%s is counted as %s', (address, group) => {
    expect(addressGroup(address)).toBe(group);
  });

  it('keeps the two routes apart and groups a /64 across addresses', () => {
    expect(sourceKey({ route: 'relay', source: '2001:db8:a:b::1' })).toBe(
      sourceKey({ route: 'relay', source: '2001:db8:a:b:ffff::2' }),
    );
    expect(sourceKey({ route: 'relay', source: '192.0.2.1' })).not.toBe(
      sourceKey({ route: 'direct', source: '192.0.2.1' }),
    );
    expect(sourceKey({ route: 'direct', source: '2001:db8:a:c::1' })).not.toBe(
      sourceKey({ route: 'direct', source: '2001:db8:a:b::1' }),
    );
  });

  it('bounds a source that is not an address', () => {
    expect(addressGroup('x'.repeat(200))).toHaveLength(64);
  });
});

describe('the wider network, for the share of the table', () => {
  it.each([
    ['192.0.2.77', '192.0.2.0/24'],
    ['::ffff:192.0.2.77', '192.0.2.0/24'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1::/48'],
    ['2001:db8:1:ffff::9', '2001:db8:1::/48'],
    ['::1', '0:0:0::/48'],
  ])('%s is in %s', (address, network) => {
    expect(networkGroup(address)).toBe(network);
  });
});
