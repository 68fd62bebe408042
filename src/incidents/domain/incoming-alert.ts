import type { IncidentType, Severity } from './incident';

/** An alert as the incidents module needs it: already validated, identified and fingerprinted. */
export interface IncomingAlert {
  id: string;
  source: string;
  title: string;
  description: string;
  severity: Severity;
  alert_type: IncidentType;
  fingerprint: string;
  received_at: string;
  external_id: string | null;
  dedup_key: string | null;
  labels: Record<string, string>;
  affected_services: string[];
  runbook_url: string | null;
  annotations: Record<string, string>;
}
