import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128); undefined when malformed. */
export function parseCidr(value: string): Cidr | undefined {
  const [address, prefixText, ...rest] = value.trim().split('/');
  if (rest.length > 0) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}

/**
 * Ranges a URL from an API request may not reach: everything that is not the public internet.
 * 240/4 includes the broadcast address; 192.0.0.0/24 and 198.18/15 are IETF and benchmarking
 * ranges that only ever exist inside a network.
 */
const REFUSED_IPV4: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private (carrier-grade NAT)'],
  ['169.254.0.0', 16, 'link-local'],
  ['192.0.0.0', 24, 'reserved'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const REFUSED_IPV6: ReadonlyArray<readonly [string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['fc00::', 7, 'unique-local'],
  ['ff00::', 8, 'multicast'],
  ['64:ff9b:1::', 48, 'private (local NAT64)'],
  ['100::', 64, 'reserved'],
];

function rangesOf(family: 'ipv4' | 'ipv6', ranges: ReadonlyArray<readonly [string, number, string]>): Array<{ list: BlockList; kind: string }> {
  return ranges.map(([address, prefix, kind]) => ({ list: blockListOf([{ address, prefix, family }]), kind }));
}
const REFUSED = { ipv4: rangesOf('ipv4', REFUSED_IPV4), ipv6: rangesOf('ipv6', REFUSED_IPV6) };

/** The eight 16-bit groups of a valid IPv6 address (a zone suffix such as %eth0 is dropped). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0].toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const before = head ? head.split(':') : [];
  const after = tail ? tail.split(':') : [];
  const groups = tail === undefined ? before : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return groups.map((g) => parseInt(g, 16));
}

/**
 * The IPv4 address an IPv6 address stands for, where it carries one that a host would route to:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d),
 * NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::). Judging these by their IPv4 address keeps
 * ::ffff:127.0.0.1 from passing as a public IPv6 address.
 */
export function embeddedIpv4(address: string): string | undefined {
  if (isIP(address.split('%')[0]) !== 6) return undefined;
  const g = ipv6Groups(address);
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6], g[7]);
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6], g[7]);
  if (g[0] === 0x2002) return v4(g[1], g[2]);
  // ::a.b.c.d, but not :: and ::1, which are IPv6's own unspecified and loopback addresses.
  if (zeros(0, 6) && (g[6] !== 0 || g[7] > 1)) return v4(g[6], g[7]);
  return undefined;
}

/** What kind of non-public address this is (`loopback`, `private`, ...); undefined for a public one. */
export function nonPublicKind(address: string): string | undefined {
  const bare = address.split('%')[0];
  const version = isIP(bare);
  if (version === 0) return 'not an IP address';
  const v4 = version === 4 ? bare : embeddedIpv4(bare);
  if (v4 !== undefined) return REFUSED.ipv4.find((r) => r.list.check(v4, 'ipv4'))?.kind;
  return REFUSED.ipv6.find((r) => r.list.check(bare, 'ipv6'))?.kind;
}
