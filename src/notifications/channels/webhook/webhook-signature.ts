import { createHmac } from 'node:crypto';

/** The keys of Standard Webhooks secrets: the base64 after `whsec_` (the loader has checked the form). */
export function signingKeys(secrets: readonly string[]): Buffer[] {
  return secrets.map((secret) => Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
}

/**
 * The Standard Webhooks headers of one delivery: `webhook-signature` holds one `v1,<base64
 * HMAC-SHA256 of id.timestamp.body>` per key, space-separated, so a receiver that knows any one of
 * the active secrets (old or new, during a rotation) can verify. `body` must be the exact text sent.
 */
export function signatureHeaders(keys: readonly Buffer[], id: string, timestampSecs: number, body: string): Record<string, string> {
  const signed = `${id}.${timestampSecs}.${body}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSecs),
    'webhook-signature': keys.map((key) => `v1,${createHmac('sha256', key).update(signed, 'utf8').digest('base64')}`).join(' '),
  };
}
