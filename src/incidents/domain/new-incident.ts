import { newId } from '../../common/ids';
import type { Incident, IncidentType, Severity } from './incident';

export interface NewIncident {
  title: string;
  description: string;
  severity: Severity;
  incident_type: IncidentType;
  source: string;
  affected_resources?: string[];
  assignees?: string[];
  labels?: Record<string, string>;
  runbook_url?: string | null;
  actor?: string;
}

/** A new incident, Detected, with its fingerprint: opened by hand or by an alert. */
export function newIncident(input: NewIncident, fingerprint: string, now: string): Incident {
  return {
    id: newId(),
    title: input.title,
    description: input.description,
    severity: input.severity,
    state: 'Detected',
    incident_type: input.incident_type,
    source: input.source,
    created_at: now,
    updated_at: now,
    resolved_at: null,
    affected_resources: [...new Set(input.affected_resources ?? [])],
    assignees: [...new Set(input.assignees ?? [])],
    labels: input.labels ?? {},
    fingerprint,
    alert_count: 1,
    last_seen_at: now,
    resolution: null,
    acknowledged_at: null,
    acknowledged_by: null,
    runbook_url: input.runbook_url ?? null,
  };
}
