import { nonPublicKind } from '../src/common/outbound/address-policy';

/**
 * Every refused range, pinned at its edges: its first and last address are refused, and the
 * addresses just outside it are public. Written out by hand (not derived from the code's table),
 * so narrowing or widening a range fails here. These addresses are only classified, never dialled.
 */
const RANGES: Array<[first: string, last: string, before: string | null, after: string | null, kind: string]> = [
  ['0.0.0.0', '0.255.255.255', null, '1.0.0.0', 'unspecified'],
  ['127.0.0.0', '127.255.255.255', '126.255.255.255', '128.0.0.0', 'loopback'],
  ['10.0.0.0', '10.255.255.255', '9.255.255.255', '11.0.0.0', 'private'],
  ['172.16.0.0', '172.31.255.255', '172.15.255.255', '172.32.0.0', 'private'],
  ['192.168.0.0', '192.168.255.255', '192.167.255.255', '192.169.0.0', 'private'],
  ['100.64.0.0', '100.127.255.255', '100.63.255.255', '100.128.0.0', 'private (carrier-grade NAT)'],
  ['169.254.0.0', '169.254.255.255', '169.253.255.255', '169.255.0.0', 'link-local'],
  ['192.0.0.0', '192.0.0.255', '191.255.255.255', '192.0.1.0', 'reserved'],
  ['198.18.0.0', '198.19.255.255', '198.17.255.255', '198.20.0.0', 'reserved'],
  ['224.0.0.0', '239.255.255.255', '223.255.255.255', null, 'multicast'],
  ['240.0.0.0', '255.255.255.255', null, null, 'reserved'],
  ['fe80::', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null, 'link-local'],
  ['fec0::', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null, null, 'site-local'],
  ['fc00::', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe00::', 'unique-local'],
  ['ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null, null, 'multicast'],
  ['64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff', '64:ff9b:0:ffff:ffff:ffff:ffff:ffff', '64:ff9b:2::', 'private (local NAT64)'],
  ['100::', '100::ffff:ffff:ffff:ffff', 'ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '100:0:0:1::', 'reserved'],
];

describe('the outbound policy’s refused ranges, at their edges', () => {
  it.each(RANGES)('%s – %s', (first, last, before, after, kind) => {
    expect(nonPublicKind(first)).toBe(kind);
    expect(nonPublicKind(last)).toBe(kind);
    if (before !== null) expect(nonPublicKind(before)).toBeUndefined();
    if (after !== null) expect(nonPublicKind(after)).toBeUndefined();
  });

  it('refuses the two single IPv6 addresses and judges embedded IPv4 by the IPv4 address', () => {
    expect(nonPublicKind('::')).toBe('unspecified');
    expect(nonPublicKind('::1')).toBe('loopback');
    expect(nonPublicKind('::2')).toBe('unspecified'); // IPv4-compatible ::0.0.0.2
    expect(nonPublicKind('::ffff:127.0.0.1')).toBe('loopback');
    expect(nonPublicKind('::ffff:0:10.1.2.3')).toBe('private');
    expect(nonPublicKind('64:ff9b::192.168.1.1')).toBe('private');
    expect(nonPublicKind('2002:a9fe:a9fe::')).toBe('link-local'); // 6to4 of 169.254.169.254
    expect(nonPublicKind('::ffff:8.8.8.8')).toBeUndefined();
    expect(nonPublicKind('2606:4700:4700::1111')).toBeUndefined();
  });
});
