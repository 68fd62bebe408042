import type { Incident, Severity } from '../../../incidents/domain/incident';
import { SEVERITY_EMOJI, humanTime, truncate } from '../../render';

/**
 * Microsoft Teams messages: an Adaptive Card in the body a Teams Workflows webhook ("Send webhook
 * alerts to a channel") posts to its channel. Rendered at the event (see ../../render.ts).
 */

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
/** Teams renders Adaptive Cards up to 1.5 (1.4 on every client, mobile included). */
export const ADAPTIVE_CARD_VERSION = '1.4';
/**
 * Teams refuses a message over about 28 KB ("Request Entity too large"), counted in bytes of the
 * body as sent (UTF-8). The whole message is kept at or under this many bytes.
 */
export const TEAMS_MESSAGE_MAX_BYTES = 28_000;

/** What a card tells: a Workflows webhook cannot edit a posted card, so each change is a card of its own. */
export type TeamsCardKind = 'new' | 'escalated' | 'reminder' | 'acknowledged' | 'reopened' | 'resolved' | 'test';

const BANNER: Record<TeamsCardKind, string> = {
  new: 'New incident',
  escalated: 'Escalated',
  reminder: 'Still open',
  acknowledged: 'Acknowledged',
  reopened: 'Reopened',
  resolved: 'Resolved',
  test: 'Test notification',
};

/**
 * Severity as Adaptive Card style words (Container `style`, TextBlock `color`): each client and
 * theme picks its own colours for them. The card also writes the severity, so colour is never the
 * only sign of it.
 */
const SEVERITY_STYLE: Record<Severity, { container: string; color: string }> = {
  P0: { container: 'attention', color: 'attention' },
  P1: { container: 'attention', color: 'attention' },
  P2: { container: 'warning', color: 'warning' },
  P3: { container: 'accent', color: 'accent' },
  P4: { container: 'emphasis', color: 'default' },
};

/** The card's kind for an event that notifies a receiver afresh (first notification, escalation step, repeat). */
export function teamsCardKind(eventName: string): TeamsCardKind {
  switch (eventName) {
    case 'incident.escalated':
      return 'escalated';
    case 'incident.reminder':
      return 'reminder';
    case 'notification.test':
      return 'test';
    default:
      return 'new';
  }
}

export interface AdaptiveCard {
  $schema: string;
  type: 'AdaptiveCard';
  version: string;
  body: object[];
  actions?: object[];
  msteams?: object;
}

/** The body POSTed to the Workflows webhook: a message with one Adaptive Card attachment. */
export interface TeamsMessage {
  type: 'message';
  attachments: { contentType: string; contentUrl: null; content: AdaptiveCard }[];
}

/** Text from alerts and people, each cut to a length first; the card shrinks them further, in this order, to fit. */
const SLOTS = ['description', 'labels', 'message', 'title', 'source', 'acknowledged', 'resolution'] as const;
type Slot = (typeof SLOTS)[number];
type Texts = Record<Slot, string>;

const DESCRIPTION_MARKER = '… [cut to fit Teams; the whole description is in the console]';
const LABELS_SHOWN = 10;

/**
 * The Teams message for an incident: severity (written, and as a style word) with what happened,
 * the title, the message line, Severity / State / Type / Created / Incident ID, the source, who
 * acknowledged it, how it was resolved, its key labels and the description, and a button that
 * opens the incident in the console. Text from alerts and people goes in RichTextBlock TextRuns,
 * which Teams shows as written (a TextBlock or a fact would read it as Markdown, links included).
 * The whole message stays within TEAMS_MESSAGE_MAX_BYTES: the description is cut first, with a
 * marker, then the other texts.
 */
export function teamsMessage(incident: Incident, kind: TeamsCardKind, message: string, options: { link?: string } = {}): TeamsMessage {
  const acknowledged = incident.acknowledged_at !== null ? `${incident.acknowledged_by ?? 'someone'} at ${humanTime(incident.acknowledged_at)}` : '';
  const resolution = incident.resolution ? `${incident.resolution.resolved_by} (${incident.resolution.method})` : '';
  let texts: Texts = {
    title: truncate(incident.title, 500),
    message: truncate(message, 1000),
    source: truncate(incident.source, 255),
    acknowledged: truncate(acknowledged, 300),
    resolution: truncate(resolution, 300),
    labels: labelsText(incident.labels),
    description: incident.description.trim(),
  };
  const build = (t: Texts) => messageOf(card(incident, kind, t, options.link));
  let rendered = build(texts);
  let size = byteLength(rendered);
  for (const slot of SLOTS) {
    if (size <= TEAMS_MESSAGE_MAX_BYTES) break;
    const text = texts[slot];
    if (text === '') continue;
    const allowed = jsonBytes(text) - (size - TEAMS_MESSAGE_MAX_BYTES);
    texts = { ...texts, [slot]: cutToBytes(text, allowed, slot === 'description' ? DESCRIPTION_MARKER : '…') };
    rendered = build(texts);
    size = byteLength(rendered);
  }
  return rendered;
}

function messageOf(content: AdaptiveCard): TeamsMessage {
  return { type: 'message', attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, contentUrl: null, content }] };
}

function card(incident: Incident, kind: TeamsCardKind, t: Texts, link: string | undefined): AdaptiveCard {
  const style = SEVERITY_STYLE[incident.severity];
  const resolved = kind === 'resolved';
  const body: object[] = [
    {
      type: 'Container',
      style: resolved ? 'good' : style.container,
      bleed: true,
      items: [
        {
          type: 'TextBlock',
          text: `${SEVERITY_EMOJI[incident.severity]} ${incident.severity} · ${BANNER[kind]}`,
          weight: 'Bolder',
          color: resolved ? 'good' : style.color,
          wrap: true,
        },
        ...(t.title ? [plain([run(t.title, { size: 'Large', weight: 'Bolder' })])] : []),
      ],
    },
  ];
  if (t.message) body.push(plain([run(t.message)]));
  body.push({
    type: 'FactSet',
    facts: [
      { title: 'Severity', value: incident.severity },
      { title: 'State', value: incident.state },
      { title: 'Type', value: incident.incident_type },
      { title: 'Created', value: humanTime(incident.created_at) },
      { title: 'Incident ID', value: incident.id },
    ],
  });
  for (const [label, text] of [
    ['Source', t.source],
    ['Acknowledged by', t.acknowledged],
    ['Resolved by', t.resolution],
    ['Labels', t.labels],
  ] as const) {
    if (text) body.push(plain([run(`${label}: `, { weight: 'Bolder' }), run(text)]));
  }
  if (t.description) body.push({ ...plain([run(t.description)]), separator: true });
  const actions = [
    ...(link && isLink(link) ? [{ type: 'Action.OpenUrl', title: 'Open in the console', url: link }] : []),
    ...(incident.runbook_url && isLink(incident.runbook_url) ? [{ type: 'Action.OpenUrl', title: 'Runbook', url: incident.runbook_url }] : []),
  ];
  return {
    $schema: ADAPTIVE_CARD_SCHEMA,
    type: 'AdaptiveCard',
    version: ADAPTIVE_CARD_VERSION,
    body,
    ...(actions.length > 0 ? { actions } : {}),
    // Teams' extension: use the channel's whole width.
    msteams: { width: 'Full' },
  };
}

/** Text shown as written: a TextRun is never read as Markdown. */
function run(text: string, style: { size?: string; weight?: string } = {}): object {
  return { type: 'TextRun', text, ...style };
}

function plain(inlines: object[]): { type: 'RichTextBlock'; inlines: object[] } {
  return { type: 'RichTextBlock', inlines };
}

/** An absolute http(s) URL without spaces, as Action.OpenUrl needs. */
function isLink(url: string): boolean {
  return url.length <= 2048 && /^https?:\/\/[^\s/]+\S*$/i.test(url);
}

/** The first ten labels, `name=value`, each cut to a length, and how many more (as the other channels show them). */
function labelsText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  const shown = entries.slice(0, LABELS_SHOWN).map(([name, value]) => `${truncate(name, 100)}=${truncate(value, 200)}`);
  return entries.length > LABELS_SHOWN ? `${shown.join(', ')} (+${entries.length - LABELS_SHOWN} more)` : shown.join(', ');
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Bytes a string takes inside the JSON body (escapes included, quotes not). */
function jsonBytes(text: string): number {
  return byteLength(text) - 2;
}

/** The longest start of `text` (whole code points) that, with `marker` after it, takes at most `maxBytes` in the JSON body; '' when not even the marker fits. */
function cutToBytes(text: string, maxBytes: number, marker: string): string {
  if (jsonBytes(marker) > maxBytes) return '';
  const chars = Array.from(text);
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (jsonBytes(chars.slice(0, mid).join('') + marker) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  return chars.slice(0, low).join('').trimEnd() + marker;
}
