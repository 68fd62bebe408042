export const SEVERITIES = ['P0', 'P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const INCIDENT_STATES = ['Detected', 'Triaged', 'Investigating', 'Remediating', 'Resolved', 'Closed'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const INCIDENT_TYPES = ['Infrastructure', 'Application', 'Security', 'Data', 'Performance', 'Availability', 'Compliance', 'Unknown'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export const RESOLUTION_METHODS = ['Automated', 'Manual', 'AutoAssistedManual'] as const;
export type ResolutionMethod = (typeof RESOLUTION_METHODS)[number];

export interface Resolution {
  resolved_by: string;
  method: ResolutionMethod;
  notes: string;
  root_cause: string | null;
}

export interface TimelineEntry {
  timestamp: string;
  event_type: string;
  actor: string;
  description: string;
  metadata: Record<string, unknown>;
  /** The API key whose request made the change; absent for the service's own changes. */
  api_key_name?: string;
}

export interface Note {
  id: string;
  author: string;
  content: string;
  created_at: string;
}

/** An incident as stored, without its timeline and notes (see IncidentDetail). */
export interface Incident {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  state: IncidentState;
  incident_type: IncidentType;
  source: string;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  affected_resources: string[];
  assignees: string[];
  labels: Record<string, string>;
  fingerprint: string;
  alert_count: number;
  last_seen_at: string;
  resolution: Resolution | null;
  /** The runbook of the first alert folded into it that named one; messages link to it. */
  runbook_url: string | null;
  /** When someone first took the incident on (acknowledge, or any move past Detected), and who. */
  acknowledged_at: string | null;
  acknowledged_by: string | null;
}

export interface IncidentDetail extends Incident {
  notes: Note[];
  /** The newest entries (at most DETAIL_TIMELINE_ENTRIES), oldest first. */
  timeline: TimelineEntry[];
  /** Entries in the whole timeline; more than `timeline` holds when it is long. */
  timeline_total: number;
}

/** P0 is the most severe; a lower rank is more severe. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export function isMoreSevere(a: Severity, b: Severity): boolean {
  return severityRank(a) < severityRank(b);
}
