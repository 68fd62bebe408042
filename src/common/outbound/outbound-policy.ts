import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { isIP, LookupFunction } from 'node:net';
import { blockListOf, Cidr, embeddedIpv4, nonPublicKind, parseCidr } from './address-policy';

/** The [outbound] section: what operators allow beyond the public internet. */
export interface OutboundAllowance {
  readonly allow_hosts: readonly string[];
  readonly allow_cidrs: readonly string[];
}

/** A request-supplied URL the policy refuses; the delivery fails permanently with this message. */
export class OutboundRefused extends Error {
  readonly code = 'ERR_OUTBOUND_REFUSED';
}

type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * Where URLs that come from API requests may go (config URLs are trusted as written): http(s)
 * without credentials, to hosts whose every address is public, unless the operator allowed the
 * host name or an address range. Used when a request is accepted and, on the sender thread, as
 * the connection's own lookup, so the socket goes to the very address that was checked.
 */
export class OutboundPolicy {
  private readonly hosts: ReadonlySet<string>;
  private readonly ranges;

  constructor(
    allowance: OutboundAllowance,
    private readonly resolver: Resolver = systemResolver,
  ) {
    this.hosts = new Set(allowance.allow_hosts.map(normalHost));
    this.ranges = blockListOf(allowance.allow_cidrs.map(parseCidr).filter((c): c is Cidr => c !== undefined));
  }

  /** The accept-time check: why this URL may not be called, or undefined. Resolves the host. */
  async refusal(url: string): Promise<string | undefined> {
    const early = this.refusedUrl(url);
    if (early !== undefined || isIP(bareHost(url))) return early;
    try {
      const checked = await this.resolve(bareHost(url));
      return 'refused' in checked ? checked.refused : undefined;
    } catch (err) {
      return `${bareHost(url)} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }

  /** What can be judged without DNS: scheme, credentials, and the address of an IP-literal host. */
  refusedUrl(raw: string): string | undefined {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'not a valid URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https URLs are allowed, not ${url.protocol.slice(0, -1)}`;
    if (url.username || url.password) return 'a URL with credentials (user:password@) is not allowed';
    const host = bareHost(raw);
    if (isIP(host) && !this.hosts.has(normalHost(host))) {
      const kind = this.refusedKind(host);
      if (kind) return `${host} is a ${kind} address`;
    }
    return undefined;
  }

  /**
   * Every address the name resolves to, if all of them may be called; one refused address refuses
   * the host, so a name cannot mix a public address with an internal one. DNS errors are thrown.
   */
  async resolve(hostname: string): Promise<{ addresses: LookupAddress[] } | { refused: string }> {
    const host = normalHost(hostname);
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await this.resolver(host);
    if (addresses.length === 0) return { refused: `${host} resolves to no address` };
    if (this.hosts.has(host)) return { addresses };
    for (const { address } of addresses) {
      const kind = this.refusedKind(address);
      // The kind, not the address: a refusal must not map internal names for the caller.
      if (kind) return { refused: address === host ? `${host} is a ${kind} address` : `${host} resolves to a ${kind} address` };
    }
    return { addresses };
  }

  /** A `lookup` for net/tls connections (the undici Agent of guarded requests) that only yields checked addresses. */
  lookup(): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname).then(
        (checked) => {
          if ('refused' in checked) return callback(new OutboundRefused(`refused: ${checked.refused}`), '', 0);
          const wanted = options.family === 4 || options.family === 6 ? checked.addresses.filter((a) => a.family === options.family) : checked.addresses;
          if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname} has no IPv${options.family} address`), { code: 'ENOTFOUND' }), '', 0);
          if (options.all) callback(null, wanted);
          else callback(null, wanted[0].address, wanted[0].family);
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    };
  }

  private refusedKind(address: string): string | undefined {
    const bare = address.split('%')[0];
    if (this.ranges.check(bare, isIP(bare) === 4 ? 'ipv4' : 'ipv6')) return undefined;
    const v4 = embeddedIpv4(bare);
    if (v4 !== undefined && this.ranges.check(v4, 'ipv4')) return undefined;
    return nonPublicKind(bare);
  }
}

/** The URL's host as an address or name: IPv6 without brackets. */
function bareHost(raw: string): string {
  const host = new URL(raw).hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** Host names compare case-insensitively and without a trailing dot. */
function normalHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}
