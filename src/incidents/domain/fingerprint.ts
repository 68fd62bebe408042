import { hash } from 'node:crypto';

export interface FingerprintInput {
  source: string;
  alert_type: string;
  title: string;
  affected_services?: readonly string[];
  dedup_key?: string | null;
}

/**
 * SHA-256 (hex) of a JSON array, which encodes each part with its boundaries, so ("a b", "c")
 * and ("a", "b c") can never collide the way a plain concatenation would. An alert with a
 * dedup_key is identified by (source, dedup_key) alone; otherwise by source, alert_type, title
 * and the sorted, de-duplicated affected services. The leading tag versions the rule.
 */
export function fingerprintOf(input: FingerprintInput): string {
  const parts =
    input.dedup_key != null && input.dedup_key !== ''
      ? ['key/v1', input.source, input.dedup_key]
      : ['alert/v1', input.source, input.alert_type, input.title, [...new Set(input.affected_services ?? [])].sort()];
  // The one-shot hash: every alert takes this path.
  return hash('sha256', JSON.stringify(parts), 'hex');
}
