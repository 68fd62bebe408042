import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Received, Scripted } from './fakes';

/**
 * A Teams Workflows webhook ("Send webhook alerts to a channel", trigger "When a Teams webhook
 * request is received") standing in for Teams, like FakeTarget in fakes.ts. It holds the sender to
 * the contract Teams documents, stricter than the real trigger (which answers 202 first and fails
 * the flow run later, where the sender never sees it):
 *
 * - `POST` of JSON (`Content-Type: application/json`); a body whose charset is not named is
 *   counted as UTF-16, as Teams was seen to count it;
 * - the whole body at most 28 KB (TEAMS_FAKE_MAX_BYTES, bytes as sent): 413 otherwise;
 * - `type: "message"` with exactly one attachment of contentType
 *   `application/vnd.microsoft.card.adaptive`, `contentUrl` null or absent, and `content` an
 *   AdaptiveCard with the `$schema`, a `version` Teams renders (1.0–1.5) and a non-empty `body`;
 * - every body element of a known type and well formed (TextBlock, RichTextBlock of TextRuns,
 *   FactSet, Container, ColumnSet of Columns, Image, ActionSet), with style words Adaptive Cards
 *   know; actions only Action.OpenUrl with an absolute http(s) URL (a webhook-posted card has no
 *   bot to take Action.Submit);
 * - 202 Accepted with an empty body on success; schema failures answer 400 with
 *   `{"error": {"code", "message"}}` as Power Automate does.
 *
 * Scriptable like FakeTarget: `script` (429 with Retry-After, 500, 400 …, or 'hang') and `always`.
 */

/** Teams documents "about 28 KB"; the fake takes the stricter reading. */
export const TEAMS_FAKE_MAX_BYTES = 28_000;

const CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5'];
const COLORS = ['default', 'dark', 'light', 'accent', 'good', 'warning', 'attention'];
const WEIGHTS = ['default', 'lighter', 'bolder'];
const SIZES = ['default', 'small', 'medium', 'large', 'extralarge'];
const CONTAINER_STYLES = ['default', 'emphasis', 'good', 'attention', 'warning', 'accent'];
const SPACINGS = ['none', 'small', 'default', 'medium', 'large', 'extralarge', 'padding'];

type Problem = { status: number; code: string; message: string };

export class TeamsFake {
  /** Requests the fake accepted (202): the cards that would be in the channel. */
  readonly received: Received[] = [];
  /** Every request, accepted or not. */
  readonly attempts: Received[] = [];
  /** Answers for the next requests, in order; when empty the fake judges the request as Teams would. */
  readonly script: Scripted[] = [];
  always?: Scripted;
  private readonly server: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();
  private port = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const raw = bytes.toString('utf8');
        let body: any = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          /* kept as text */
        }
        const seen: Received = { path: req.url ?? '/', headers: req.headers, body, raw, at: Date.now() };
        this.attempts.push(seen);
        const next = this.script.shift() ?? this.always;
        if (next === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        let answer: { status: number; body?: string; headers?: Record<string, string> };
        if (next) answer = next;
        else {
          const problem = judge(req.method ?? '', req.headers, bytes, body);
          answer = problem
            ? {
                status: problem.status,
                body: JSON.stringify({ error: { code: problem.code, message: problem.message } }),
                headers: { 'content-type': 'application/json' },
              }
            : { status: 202, body: '' };
        }
        if (answer.status >= 200 && answer.status < 300) this.received.push(seen);
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      });
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The fake's base URL; a Workflows webhook URL looks like `<url>/workflows/<id>/triggers/manual/paths/invoke?...&sig=...`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The cards accepted so far (the attachment's content). */
  get cards(): any[] {
    return this.received.map((r) => r.body.attachments[0].content);
  }

  /** Waits until `count` requests have been accepted (or fails after `ms`). */
  async waitFor(count: number, ms = 15_000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} accepted Teams cards, got ${this.received.length}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.received;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export function teamsFake(): Promise<TeamsFake> {
  return new TeamsFake().listen();
}

/** Everything a card says, its text runs and facts in order, for assertions on what a reader sees. */
export function cardText(card: any): string {
  const out: string[] = [];
  const walk = (element: any): void => {
    if (typeof element === 'string') return void out.push(element);
    if (!element || typeof element !== 'object') return;
    if (element.type === 'TextBlock' || element.type === 'TextRun') out.push(element.text);
    if (element.type === 'RichTextBlock') return void out.push(element.inlines.map((i: any) => (typeof i === 'string' ? i : i.text)).join(''));
    if (element.type === 'FactSet') for (const f of element.facts) out.push(`${f.title}: ${f.value}`);
    for (const key of ['items', 'columns', 'body']) if (Array.isArray(element[key])) element[key].forEach(walk);
  };
  walk(card);
  return out.join('\n');
}

function judge(method: string, headers: http.IncomingHttpHeaders, bytes: Buffer, body: any): Problem | null {
  if (method !== 'POST') return { status: 405, code: 'MethodNotAllowed', message: `The HTTP method '${method}' is not allowed; the trigger takes POST.` };
  const type = String(headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(type)) return bad(`The request content type '${type}' is not supported; send application/json.`);
  // Without a charset the body was counted as UTF-16 (two bytes a character).
  const size = /charset\s*=\s*"?utf-8/.test(type) ? bytes.length : bytes.toString('utf8').length * 2;
  if (size > TEAMS_FAKE_MAX_BYTES) {
    return { status: 413, code: 'MessageTooLarge', message: `Request Entity too large: the message is ${size} bytes, over ${TEAMS_FAKE_MAX_BYTES}.` };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('The request body is not a JSON object.');
  if (body.type !== 'message') return bad(`'type' must be 'message', got ${JSON.stringify(body.type)}.`);
  if (!Array.isArray(body.attachments) || body.attachments.length !== 1) return bad("'attachments' must hold exactly one card.");
  const attachment = body.attachments[0];
  if (typeof attachment !== 'object' || attachment === null) return bad("'attachments[0]' must be an object.");
  if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive') {
    return bad(`'attachments[0].contentType' must be application/vnd.microsoft.card.adaptive, got ${JSON.stringify(attachment.contentType)}.`);
  }
  if (attachment.contentUrl !== undefined && attachment.contentUrl !== null) return bad("'attachments[0].contentUrl' must be null.");
  const card = attachment.content;
  if (typeof card !== 'object' || card === null) return bad("'attachments[0].content' must be an Adaptive Card.");
  if (card.type !== 'AdaptiveCard') return bad(`content.type must be 'AdaptiveCard', got ${JSON.stringify(card.type)}.`);
  if (card.$schema !== CARD_SCHEMA) return bad(`content.$schema must be ${CARD_SCHEMA}.`);
  if (!VERSIONS.includes(card.version)) return bad(`content.version ${JSON.stringify(card.version)} is not one Teams renders (${VERSIONS.join(', ')}).`);
  if (!Array.isArray(card.body) || card.body.length === 0) return bad('content.body must be a non-empty array of elements.');
  const problem = elementsProblem(card.body, 'content.body') ?? actionsProblem(card.actions, 'content.actions');
  return problem ? bad(problem) : null;
}

function bad(message: string): Problem {
  return { status: 400, code: 'TriggerInputSchemaMismatch', message };
}

const oneOf = (value: unknown, allowed: string[]) => value === undefined || (typeof value === 'string' && allowed.includes(value.toLowerCase()));
const nonEmptyText = (value: unknown) => typeof value === 'string' && value.trim() !== '';

function textStyleProblem(element: any, at: string): string | null {
  if (!oneOf(element.color, COLORS)) return `${at}.color ${JSON.stringify(element.color)} is not one of ${COLORS.join(', ')}`;
  if (!oneOf(element.weight, WEIGHTS)) return `${at}.weight ${JSON.stringify(element.weight)} is not one of ${WEIGHTS.join(', ')}`;
  if (!oneOf(element.size, SIZES)) return `${at}.size ${JSON.stringify(element.size)} is not one of ${SIZES.join(', ')}`;
  return null;
}

function elementsProblem(elements: unknown, at: string): string | null {
  if (!Array.isArray(elements) || elements.length === 0) return `${at} must be a non-empty array`;
  for (const [i, element] of elements.entries()) {
    const problem = elementProblem(element, `${at}[${i}]`);
    if (problem) return problem;
  }
  return null;
}

function elementProblem(element: any, at: string): string | null {
  if (typeof element !== 'object' || element === null) return `${at} must be an object`;
  if (element.separator !== undefined && typeof element.separator !== 'boolean') return `${at}.separator must be a boolean`;
  if (!oneOf(element.spacing, SPACINGS)) return `${at}.spacing is not one of ${SPACINGS.join(', ')}`;
  switch (element.type) {
    case 'TextBlock':
      if (!nonEmptyText(element.text)) return `${at}.text must be a non-empty string`;
      if (element.wrap !== undefined && typeof element.wrap !== 'boolean') return `${at}.wrap must be a boolean`;
      return textStyleProblem(element, at);
    case 'RichTextBlock': {
      if (!Array.isArray(element.inlines) || element.inlines.length === 0) return `${at}.inlines must be a non-empty array`;
      for (const [i, inline] of (element.inlines as any[]).entries()) {
        if (typeof inline === 'string') continue;
        if (typeof inline !== 'object' || inline === null || inline.type !== 'TextRun') return `${at}.inlines[${i}] must be a TextRun`;
        if (typeof inline.text !== 'string' || inline.text === '') return `${at}.inlines[${i}].text must be a non-empty string`;
        const problem = textStyleProblem(inline, `${at}.inlines[${i}]`);
        if (problem) return problem;
      }
      return null;
    }
    case 'FactSet': {
      if (!Array.isArray(element.facts) || element.facts.length === 0) return `${at}.facts must be a non-empty array`;
      for (const [i, fact] of (element.facts as any[]).entries()) {
        if (typeof fact?.title !== 'string' || !nonEmptyText(fact?.value)) return `${at}.facts[${i}] must have a title and a non-empty value`;
      }
      return null;
    }
    case 'Container':
      if (!oneOf(element.style, CONTAINER_STYLES)) return `${at}.style ${JSON.stringify(element.style)} is not one of ${CONTAINER_STYLES.join(', ')}`;
      if (element.bleed !== undefined && typeof element.bleed !== 'boolean') return `${at}.bleed must be a boolean`;
      return elementsProblem(element.items, `${at}.items`);
    case 'ColumnSet': {
      if (!Array.isArray(element.columns) || element.columns.length === 0) return `${at}.columns must be a non-empty array`;
      for (const [i, column] of (element.columns as any[]).entries()) {
        if (column?.type !== 'Column') return `${at}.columns[${i}].type must be Column`;
        if (!oneOf(column.style, CONTAINER_STYLES)) return `${at}.columns[${i}].style is not one of ${CONTAINER_STYLES.join(', ')}`;
        const problem = column.items === undefined ? null : elementsProblem(column.items, `${at}.columns[${i}].items`);
        if (problem) return problem;
      }
      return null;
    }
    case 'Image':
      return isAbsoluteUrl(element.url) ? null : `${at}.url must be an absolute http(s) URL`;
    case 'ActionSet':
      return Array.isArray(element.actions) && element.actions.length > 0
        ? actionsProblem(element.actions, `${at}.actions`)
        : `${at}.actions must be a non-empty array`;
    default:
      return `${at}.type ${JSON.stringify(element.type)} is not an element type Teams knows`;
  }
}

function actionsProblem(actions: unknown, at: string): string | null {
  if (actions === undefined) return null;
  if (!Array.isArray(actions)) return `${at} must be an array`;
  for (const [i, action] of actions.entries()) {
    if (action?.type !== 'Action.OpenUrl') return `${at}[${i}].type ${JSON.stringify(action?.type)}: a card posted by a Workflows webhook can only open URLs`;
    if (!nonEmptyText(action.title)) return `${at}[${i}].title must be a non-empty string`;
    if (!isAbsoluteUrl(action.url)) return `${at}[${i}].url must be an absolute http(s) URL`;
  }
  return null;
}

function isAbsoluteUrl(value: unknown): boolean {
  if (typeof value !== 'string' || /\s/.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.host !== '';
  } catch {
    return false;
  }
}
