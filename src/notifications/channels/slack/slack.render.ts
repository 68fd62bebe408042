import type { Incident } from '../../../incidents/domain/incident';
import { SEVERITY_COLOR, SEVERITY_EMOJI, humanTime, keyLabels, truncate } from '../../render';

/** Slack messages (Block Kit), rendered at the event (see ../../render.ts). */

/** Block Kit limits (Slack: 50 blocks, 3,000 characters of text in a section, 150 in a header): long text is cut with a marker, never refused. */
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
 * The Slack message: severity emoji and title in a header, the message line, the
 * description, Severity / State / Type / Source fields, id and creation time, in an attachment
 * whose colour bar shows the severity.
 */
export function slackMessage(incident: Incident, message: string, options: { interactive?: boolean; link?: string } = {}): SlackMessage {
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
  if (Object.keys(incident.labels).length > 0) details.push({ type: 'section', text: mrkdwn(`*Labels:* ${keyLabels(incident.labels)}`, SLACK_SECTION_MAX) });
  details.push({
    type: 'context',
    elements: [
      mrkdwn(`*Incident ID:* ${incident.id}`, SLACK_FIELD_MAX),
      mrkdwn(`*Created:* ${humanTime(incident.created_at)}`, SLACK_FIELD_MAX),
      ...slackLink(options.link, 'Open in the console'),
      ...slackLink(incident.runbook_url, 'Runbook'),
    ],
  });
  if (incident.acknowledged_at !== null && incident.state !== 'Resolved' && incident.state !== 'Closed') {
    details.push({
      type: 'context',
      elements: [mrkdwn(`*Acknowledged by* ${incident.acknowledged_by ?? 'someone'} at ${humanTime(incident.acknowledged_at)}`, SLACK_FIELD_MAX)],
    });
  }
  if (incident.resolution) {
    details.push({ type: 'context', elements: [mrkdwn(`*Resolved by* ${incident.resolution.resolved_by} (${incident.resolution.method})`, SLACK_FIELD_MAX)] });
  }
  const blocks: object[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(title, SLACK_HEADER_MAX), emoji: true } }];
  const buttons = options.interactive ? slackButtons(incident) : [];
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: 'incident_actions', elements: buttons });
  return {
    // The notification text (and what clients without blocks show).
    text: truncate(`${title}\n${message}`, SLACK_TEXT_MAX),
    blocks,
    attachments: [{ color: SEVERITY_COLOR[incident.severity], blocks: details }],
  };
}

/**
 * A link as mrkdwn, `<url|text>`: only & needs escaping in a URL without <, > or |; one that has
 * them, or too long for a field once escaped, is left out rather than have Slack refuse the message.
 */
function slackLink(url: string | null | undefined, text: string): { type: 'mrkdwn'; text: string }[] {
  if (!url || !/^https?:\/\/[^\s<>|]+$/i.test(url)) return [];
  const written = `<${url.replace(/&/g, '&amp;')}|${text}>`;
  return written.length <= SLACK_FIELD_MAX ? [{ type: 'mrkdwn', text: written }] : [];
}

/** The action_id of each button; POST /v1/integrations/slack/interactions applies them. */
export const SLACK_ACTIONS = { acknowledge: 'incident_acknowledge', resolve: 'incident_resolve' } as const;

/** Acknowledge while nobody has, Resolve while the incident is open; the value is the incident id. */
function slackButtons(incident: Incident): object[] {
  const open = incident.state !== 'Resolved' && incident.state !== 'Closed';
  if (!open) return [];
  const button = (text: string, action_id: string, style?: 'primary' | 'danger') => ({
    type: 'button',
    text: { type: 'plain_text', text, emoji: false },
    action_id,
    value: incident.id,
    ...(style ? { style } : {}),
  });
  const out: object[] = [];
  if (incident.acknowledged_at === null) out.push(button('Acknowledge', SLACK_ACTIONS.acknowledge, 'primary'));
  out.push(button('Resolve', SLACK_ACTIONS.resolve));
  return out;
}
