import type { Incident, Severity } from '../incidents/domain/incident';

/**
 * Renders messages from the incident as it was at the event. Everything here is pure: the router
 * calls it inside the incident's transaction and stores the result, so a worker that runs later
 * sends what was true then.
 */

export const SEVERITY_EMOJI: Record<Severity, string> = { P0: '🔴', P1: '🟠', P2: '🟡', P3: '🔵', P4: '⚪' };
export const SEVERITY_COLOR: Record<Severity, string> = {
  P0: '#d00000',
  P1: '#ff6b35',
  P2: '#f7b801',
  P3: '#0077b6',
  P4: '#00b4d8',
};
export const PAGERDUTY_SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = {
  P0: 'critical',
  P1: 'error',
  P2: 'warning',
  P3: 'info',
  P4: 'info',
};

/** Cuts text to `max` characters (code points), marking the cut with an ellipsis. */
/** The incident's page in the console, when `server.public_url` says where the console is. */
export function incidentLink(publicUrl: string, incidentId: string): string | undefined {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}/incidents/${incidentId}` : undefined;
}

/** The labels a message shows, "name=value", at most `max` of them (the rest counted). */
export function keyLabels(labels: Record<string, string>, max = 10): string {
  const entries = Object.entries(labels);
  const shown = entries.slice(0, max).map(([name, value]) => `${name}=${value}`);
  return entries.length > max ? `${shown.join(', ')} (+${entries.length - max} more)` : shown.join(', ');
}

export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, max - 1).join('') + '…';
}

/** "2024-01-15 14:32:00 UTC": the time as notifications show it. */
export function humanTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** The line that says what happened, shared by every channel. */
export function headline(event: string, incident: Incident): string {
  switch (event) {
    case 'incident.detected':
      return `New ${incident.severity} incident detected: ${incident.title}`;
    case 'incident.triaged':
      return `Incident triaged: ${incident.title}`;
    case 'incident.investigating':
      return `Investigation started: ${incident.title}`;
    case 'incident.remediating':
      return `Remediation in progress: ${incident.title}`;
    case 'incident.resolved':
      return `Incident resolved: ${incident.title}`;
    case 'incident.closed':
      return `Incident closed: ${incident.title}`;
    case 'incident.updated':
      return `Incident raised to ${incident.severity}: ${incident.title}`;
    default:
      return incident.title;
  }
}

/** The incident as notifications show it: the webhook payload's `incident` object, field for field. */
export function incidentSummary(incident: Incident): object {
  return {
    id: incident.id,
    title: incident.title,
    description: incident.description,
    severity: incident.severity,
    state: incident.state,
    incident_type: incident.incident_type,
    source: incident.source,
    created_at: incident.created_at,
    updated_at: incident.updated_at,
    affected_resources: incident.affected_resources,
    assignees: incident.assignees,
    labels: incident.labels,
  };
}
