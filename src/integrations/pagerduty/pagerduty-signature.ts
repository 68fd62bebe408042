import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * PagerDuty's v3 webhook signatures: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>`,
 * one per signing secret of the subscription, comma-separated (two while a secret is rotated).
 * Versions other than v1 are skipped, as PagerDuty asks, so that a future version added beside
 * v1 does not break receivers.
 */

/** More entries than any rotation needs: the header is refused rather than hashed against. */
const MAX_SIGNATURES = 16;

/** `v1=<64 hex>` for the raw body and one secret: what PagerDuty sends for that secret. */
export function pagerDutySignature(raw: string, secret: string): string {
  return `v1=${createHmac('sha256', secret).update(raw, 'utf8').digest('hex')}`;
}

/** The v1 digests a header carries, or a reason it carries none that can be checked. */
export function v1DigestsOf(header: string | undefined): { digests: Buffer[] } | { problem: string } {
  if (header === undefined || header.trim() === '') return { problem: 'missing x-pagerduty-signature' };
  const entries = header.split(',').map((entry) => entry.trim());
  if (entries.length > MAX_SIGNATURES) return { problem: `malformed x-pagerduty-signature: more than ${MAX_SIGNATURES} signatures` };
  const digests = entries.filter((entry) => /^v1=[0-9a-f]{64}$/i.test(entry)).map((entry) => Buffer.from(entry.slice(3), 'hex'));
  if (digests.length === 0) return { problem: 'malformed x-pagerduty-signature: no v1=<64 hex digits> signature' };
  return { digests };
}

/** Whether any digest is the HMAC of the body under any secret; every comparison takes constant time. */
export function signedByAny(raw: string, digests: readonly Buffer[], secrets: readonly string[]): boolean {
  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(raw, 'utf8').digest();
    // No early return: the time taken does not say which secret or which signature matched.
    for (const digest of digests) if (timingSafeEqual(expected, digest)) matched = true;
  }
  return matched;
}
