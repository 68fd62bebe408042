import type { Incident, Severity } from '../../../incidents/domain/incident';
import { keyLabels, truncate } from '../../render';

/** ntfy messages, published as JSON to the server's root (docs/ntfy.md), rendered at the event (see ../../render.ts). */

/**
 * Priority by severity (1 min … 5 max). P0 and P1 are pages everywhere in this service (PagerDuty
 * is paged for them only), so both get max: the long vibration burst and pop-over, and the level
 * the ntfy app can let through Do Not Disturb. P2 is high, P3 default, P4 low (no sound).
 */
export const NTFY_PRIORITY: Record<Severity, 1 | 2 | 3 | 4 | 5> = { P0: 5, P1: 5, P2: 4, P3: 3, P4: 2 };

/** Tags that ntfy shows as an emoji before the title: the severity colours Slack shows too. */
export const NTFY_SEVERITY_TAG: Record<Severity, string> = {
  P0: 'red_circle',
  P1: 'orange_circle',
  P2: 'yellow_circle',
  P3: 'large_blue_circle',
  P4: 'white_circle',
};

/** ntfy keeps a message up to 4,096 bytes; a longer one would become an attachment. */
export const NTFY_MESSAGE_MAX_BYTES = 4096;
const NTFY_TITLE_MAX = 250;

export interface NtfyAction {
  action: 'view' | 'http';
  label: string;
  url: string;
  method?: 'POST';
  headers?: Record<string, string>;
  clear?: boolean;
}

export interface NtfyMessage {
  topic: string;
  title: string;
  message: string;
  priority: 1 | 2 | 3 | 4 | 5;
  tags: string[];
  click?: string;
  actions: NtfyAction[];
}

/** Cuts text to at most `max` UTF-8 bytes, on a character boundary, marking the cut with an ellipsis. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const room = max - Buffer.byteLength('…', 'utf8');
  let used = 0;
  let out = '';
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (used + size > room) break;
    used += size;
    out += char;
  }
  return `${out}…`;
}

/**
 * One push to a person's topic: the severity and title, what happened, the state and source.
 * `ackUrl` (a signed, single-use link) becomes an Acknowledge button that POSTs from the phone;
 * `link` (the incident in the console) is what a tap on the notification and the Open button open.
 */
export function ntfyMessage(incident: Incident, topic: string, text: string, options: { link?: string; ackUrl?: string } = {}): NtfyMessage {
  const labels = keyLabels(incident.labels, 5);
  const message = [
    text,
    '',
    `State: ${incident.state} · Source: ${incident.source || '—'}`,
    ...(incident.affected_resources.length > 0 ? [`Affected: ${incident.affected_resources.join(', ')}`] : []),
    ...(labels ? [`Labels: ${labels}`] : []),
    `ID: ${incident.id}`,
  ].join('\n');
  const actions: NtfyAction[] = [
    // The app sends the request itself (POST, empty body); Accept asks for a JSON answer, and
    // clear removes the notification once the service answers 2xx.
    ...(options.ackUrl
      ? [{ action: 'http' as const, label: 'Acknowledge', url: options.ackUrl, method: 'POST' as const, headers: { Accept: 'application/json' }, clear: true }]
      : []),
    ...(options.link ? [{ action: 'view' as const, label: 'Open', url: options.link }] : []),
  ];
  return {
    topic,
    title: truncate(`[${incident.severity}] ${incident.title}`, NTFY_TITLE_MAX),
    message: truncateBytes(message, NTFY_MESSAGE_MAX_BYTES),
    priority: NTFY_PRIORITY[incident.severity],
    tags: [NTFY_SEVERITY_TAG[incident.severity]],
    ...(options.link ? { click: options.link } : {}),
    actions,
  };
}
