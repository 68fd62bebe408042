import type { Incident } from '../../../incidents/domain/incident';
import { SEVERITY_COLOR, headline, humanTime, keyLabels, truncate } from '../../render';

/** Email messages (HTML and text parts), rendered at the event (see ../../render.ts). */

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
    ['Labels', keyLabels(incident.labels) || '—'],
  ];
}

/**
 * The incident email: a severity badge and title, the message, and a details table; plain text too.
 * `link`: the incident in the console. `ackLink`: a signed, single-use link that acknowledges the
 * incident as the person the email is for (emails to a person only; GET shows a confirmation page,
 * only its button acknowledges).
 */
export function emailMessage(incident: Incident, to: string[], subject: string, message: string, link?: string, ackLink?: string): EmailMessage {
  const rows = detailRows(incident);
  const color = SEVERITY_COLOR[incident.severity];
  const text = [
    `${incident.severity} incident: ${incident.title}`,
    '',
    message,
    '',
    ...(ackLink ? [`Acknowledge (one click, as you): ${ackLink}`, ''] : []),
    ...(incident.description ? [`Description: ${incident.description}`, ''] : []),
    ...rows.map(([k, v]) => `${k}: ${v}`),
    ...(incident.runbook_url ? ['', `Runbook: ${incident.runbook_url}`] : []),
    ...(link ? ['', `Open in the console: ${link}`] : []),
  ].join('\n');
  const html = `<!doctype html>
<html><body style="font-family:Arial,Helvetica,sans-serif;color:#222">
<h2 style="margin:0 0 12px 0"><span style="display:inline-block;padding:2px 10px;border-radius:4px;background:${color};color:#fff;font-size:14px;vertical-align:middle">${escapeHtml(incident.severity)}</span> ${escapeHtml(incident.title)}</h2>
<p>${escapeHtml(message).replace(/\n/g, '<br>')}</p>
${ackLink ? `<p><a href="${escapeHtml(ackLink)}" style="display:inline-block;padding:10px 18px;border-radius:4px;background:#1a56db;color:#fff;text-decoration:none;font-weight:bold">Acknowledge</a> <span style="color:#555">one click, as you; the page asks you to confirm</span></p>` : ''}
${incident.description ? `<p><strong>Description:</strong> ${escapeHtml(incident.description)}</p>` : ''}
<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;border:1px solid #ddd">
${rows.map(([k, v]) => `<tr><th align="left" style="background:#f5f5f5;border:1px solid #ddd">${escapeHtml(k)}</th><td style="border:1px solid #ddd">${escapeHtml(v)}</td></tr>`).join('\n')}
</table>
${incident.runbook_url && /^https?:\/\//i.test(incident.runbook_url) ? `<p><a href="${escapeHtml(incident.runbook_url)}">Runbook</a></p>` : ''}
${link ? `<p><a href="${escapeHtml(link)}">Open in the console</a></p>` : ''}
</body></html>`;
  return { to, subject, text, html };
}

export function emailSubject(event: string, incident: Incident): string {
  return truncate(`[${incident.severity}] ${headline(event, incident)}`, 200);
}
