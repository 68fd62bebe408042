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
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, max - 1).join('') + '…';
}

/** "2024-01-15 14:32:00 UTC", as in the guide's examples. */
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

// ---------------------------------------------------------------- webhook

/** The incident as notifications show it: the guide's webhook `incident` object, field for field. */
function incidentSummary(incident: Incident): object {
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

/** The guide's default webhook payload, field for field. */
export function webhookBody(eventType: string, timestamp: string, incident: Incident, notificationId: string): object {
  return {
    event_type: eventType,
    timestamp,
    incident: incidentSummary(incident),
    notification_id: notificationId,
  };
}

// ---------------------------------------------------------------- Slack

/** Block Kit limits (PROTOCOLS.md): long text is cut with a marker, never refused. */
const SLACK_HEADER_MAX = 150;
const SLACK_SECTION_MAX = 3000;
const SLACK_FIELD_MAX = 2000;
const SLACK_TEXT_MAX = 40_000;

/** Slack mrkdwn needs &, < and > escaped, or text such as "<!channel>" would ping everyone. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function mrkdwn(text: string, max: number): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: truncate(slackEscape(text), max) };
}

export interface SlackMessage {
  text: string;
  blocks: object[];
  attachments: { color: string; blocks: object[] }[];
}

/**
 * The guide's Slack message: severity emoji and title in a header, the message line, the
 * description, Severity / State / Type / Source fields, id and creation time, in an attachment
 * whose colour bar shows the severity.
 */
export function slackMessage(incident: Incident, message: string): SlackMessage {
  const emoji = SEVERITY_EMOJI[incident.severity];
  const title = `${emoji} Incident: ${incident.title}`;
  const details: object[] = [{ type: 'section', text: mrkdwn(message, SLACK_SECTION_MAX) }];
  if (incident.description.trim() !== '') {
    details.push({ type: 'section', text: mrkdwn(`*Description:* ${incident.description}`, SLACK_SECTION_MAX) });
  }
  details.push({
    type: 'section',
    fields: [
      mrkdwn(`*Severity:* ${incident.severity}`, SLACK_FIELD_MAX),
      mrkdwn(`*State:* ${incident.state}`, SLACK_FIELD_MAX),
      mrkdwn(`*Type:* ${incident.incident_type}`, SLACK_FIELD_MAX),
      mrkdwn(`*Source:* ${incident.source}`, SLACK_FIELD_MAX),
    ],
  });
  details.push({
    type: 'context',
    elements: [mrkdwn(`*Incident ID:* ${incident.id}`, SLACK_FIELD_MAX), mrkdwn(`*Created:* ${humanTime(incident.created_at)}`, SLACK_FIELD_MAX)],
  });
  return {
    // The notification text (and what clients without blocks show).
    text: truncate(`${title}\n${message}`, SLACK_TEXT_MAX),
    blocks: [{ type: 'header', text: { type: 'plain_text', text: truncate(title, SLACK_HEADER_MAX), emoji: true } }],
    attachments: [{ color: SEVERITY_COLOR[incident.severity], blocks: details }],
  };
}

// ---------------------------------------------------------------- email

export interface EmailMessage {
  to: string[];
  subject: string;
  text: string;
  html: string;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function detailRows(incident: Incident): [string, string][] {
  return [
    ['ID', incident.id],
    ['Severity', incident.severity],
    ['State', incident.state],
    ['Type', incident.incident_type],
    ['Source', incident.source],
    ['Created', humanTime(incident.created_at)],
    ['Affected resources', incident.affected_resources.join(', ') || '—'],
    ['Assignees', incident.assignees.join(', ') || '—'],
  ];
}

/** The guide's email: a severity badge and title, the message, and a details table; plain text too. */
export function emailMessage(incident: Incident, to: string[], subject: string, message: string): EmailMessage {
  const rows = detailRows(incident);
  const color = SEVERITY_COLOR[incident.severity];
  const text = [
    `${incident.severity} incident: ${incident.title}`,
    '',
    message,
    '',
    ...(incident.description ? [`Description: ${incident.description}`, ''] : []),
    ...rows.map(([k, v]) => `${k}: ${v}`),
  ].join('\n');
  const html = `<!doctype html>
<html><body style="font-family:Arial,Helvetica,sans-serif;color:#222">
<h2 style="margin:0 0 12px 0"><span style="display:inline-block;padding:2px 10px;border-radius:4px;background:${color};color:#fff;font-size:14px;vertical-align:middle">${escapeHtml(incident.severity)}</span> ${escapeHtml(incident.title)}</h2>
<p>${escapeHtml(message).replace(/\n/g, '<br>')}</p>
${incident.description ? `<p><strong>Description:</strong> ${escapeHtml(incident.description)}</p>` : ''}
<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;border:1px solid #ddd">
${rows.map(([k, v]) => `<tr><th align="left" style="background:#f5f5f5;border:1px solid #ddd">${escapeHtml(k)}</th><td style="border:1px solid #ddd">${escapeHtml(v)}</td></tr>`).join('\n')}
</table>
</body></html>`;
  return { to, subject, text, html };
}

export function emailSubject(event: string, incident: Incident): string {
  return truncate(`[${incident.severity}] ${headline(event, incident)}`, 200);
}

// ---------------------------------------------------------------- PagerDuty

const PAGERDUTY_SUMMARY_MAX = 1024;
const PAGERDUTY_DEDUP_KEY_MAX = 255;

/** An Events API v2 event without its routing key (added when sent, from the environment). */
export function pagerdutyEvent(
  action: 'trigger' | 'acknowledge' | 'resolve',
  incident: Incident,
  timestamp: string,
  options: { dedupKey?: string; summary?: string } = {},
): object {
  const dedup_key = truncate(options.dedupKey ?? incident.id, PAGERDUTY_DEDUP_KEY_MAX);
  if (action !== 'trigger') return { event_action: action, dedup_key, client: 'LLM Incident Manager' };
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
  };
}
