import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Twilio's request signature (X-Twilio-Signature): base64 of HMAC-SHA1, keyed with the account's
 * auth token, over the full URL Twilio called followed by every POST parameter's name and value,
 * sorted by name (and, for a repeated name, by value).
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const pairs = [...params.entries()].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const data = url + pairs.map(([name, value]) => name + value).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export function twilioSignatureMatches(authToken: string, url: string, params: URLSearchParams, given: string | undefined): boolean {
  if (!given || !/^[A-Za-z0-9+/]{27}=$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(twilioSignature(authToken, url, params)), Buffer.from(given));
}
