import { createHash } from 'node:crypto';

/**
 * A four-digit code for an incident, short enough to type on a phone ("ACK 4821"). Derived from
 * the id, so it needs no storage; two incidents may share one, which is why a reply is matched
 * only against the incidents texted or called to that phone (and refused if two of those share it).
 */
export function incidentCode(incidentId: string): string {
  const n = createHash('sha256').update(incidentId).digest().readUInt32BE(0);
  return String(1000 + (n % 9000));
}
