import type { Incident } from '../../../incidents/domain/incident';
import { PAGERDUTY_SEVERITY, incidentSummary, truncate } from '../../render';

/** PagerDuty Events API v2 events, rendered at the event (see ../../render.ts). */

const PAGERDUTY_SUMMARY_MAX = 1024;
const PAGERDUTY_DEDUP_KEY_MAX = 255;

/** An Events API v2 event without its routing key (added when sent, from the environment). */
export function pagerdutyEvent(
  action: 'trigger' | 'acknowledge' | 'resolve',
  incident: Incident,
  timestamp: string,
  options: { dedupKey?: string; summary?: string; link?: string } = {},
): object {
  const dedup_key = truncate(options.dedupKey ?? incident.id, PAGERDUTY_DEDUP_KEY_MAX);
  if (action !== 'trigger') return { event_action: action, dedup_key, client: 'LLM Incident Manager' };
  const links = [
    ...(options.link ? [{ href: options.link, text: 'Open in LLM Incident Manager' }] : []),
    ...(incident.runbook_url ? [{ href: incident.runbook_url, text: 'Runbook' }] : []),
  ];
  return {
    event_action: 'trigger',
    dedup_key,
    client: 'LLM Incident Manager',
    payload: {
      summary: truncate(options.summary ?? `[${incident.severity}] ${incident.title}`, PAGERDUTY_SUMMARY_MAX),
      source: incident.source || 'llm-incident-manager',
      severity: PAGERDUTY_SEVERITY[incident.severity],
      timestamp,
      component: incident.affected_resources[0],
      class: incident.incident_type,
      custom_details: { incident_id: incident.id, ...incidentSummary(incident) },
    },
    // Shown on PagerDuty's incident as a link back (Events API v2 `links`).
    ...(links.length > 0 ? { links } : {}),
  };
}
