import { type AddressInfo, isIPv6 } from 'node:net';

/** `host:port` as an address or a URL needs it: an IPv6 literal goes in brackets. */
export function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** What a listening socket holds, as `host:port`. */
export function boundHostPort(bound: AddressInfo): string {
  return hostPort(bound.address, bound.port);
}

/** Whether server.host binds every interface (IPv4, or IPv6 too) rather than one address. */
export function isEveryInterface(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
