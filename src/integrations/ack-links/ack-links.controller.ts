import { createHash } from 'node:crypto';
import { Controller, Get, Headers, Param, Post, Res } from '@nestjs/common';
import {
  ApiExcludeEndpoint,
  ApiExtension,
  ApiForbiddenResponse,
  ApiGoneResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../../auth/access.decorators';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import { incidentLink } from '../../notifications/render';
import { AckLinksService, AckOutcome } from './ack-links.service';

const TOKEN_PARAM = { name: 'token', description: 'The signed token the email or push notification carried' };
const PAGE_OR_JSON = {
  'text/html': { schema: { type: 'string' } },
  'application/json': {
    schema: {
      type: 'object',
      properties: { incident_id: { type: 'string', nullable: true }, applied: { type: 'boolean' }, text: { type: 'string' } },
    },
  },
};

/**
 * Acknowledgement links (docs/acknowledgement-links.md). No API key: the signed token in the
 * path is the credential. A GET shows a confirmation page and changes nothing, since mail
 * scanners and link previews follow links; the page's button POSTs to the same address, which
 * acknowledges. Browsers get HTML; a client whose Accept prefers JSON (ntfy's action button)
 * gets `{incident_id, applied, text}`.
 *
 * Tokens are about 200 characters and Fastify's router refuses a path parameter over 100 (414
 * everywhere else), so a wildcard route beside each documented one takes them; both answer alike.
 */
@ApiTags('integrations')
@ApiExtension('x-credential', 'path.token')
@Controller('v1/ack')
export class AckLinksController {
  constructor(
    private readonly links: AckLinksService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  @Public()
  @Get(':token')
  @ApiOperation({
    summary: 'What an acknowledgement link would do: a confirmation page (changes nothing)',
    description: 'Names the incident (severity, title, state) and the person; its button POSTs to the same address.',
  })
  @ApiParam(TOKEN_PARAM)
  @ApiProduces('text/html', 'application/json')
  @ApiOkResponse({ description: 'The confirmation page (or, once acknowledged, who acknowledged it)', content: PAGE_OR_JSON })
  @ApiNotFoundResponse({
    description: 'Not a link this service made (malformed, or a bad signature), or its incident or user is unknown',
    content: PAGE_OR_JSON,
  })
  @ApiForbiddenResponse({ description: "The link's user is deactivated", content: PAGE_OR_JSON })
  @ApiGoneResponse({ description: 'Expired, or already used', content: PAGE_OR_JSON })
  async show(@Param('token') token: string, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    this.answer(reply, accept, await this.links.look(token));
  }

  @Public()
  @Post(':token')
  @ApiOperation({
    summary: "Acknowledges the incident as the link's person (once per link)",
    description:
      "An empty body, or the confirmation page's empty form (application/x-www-form-urlencoded). The first POST acknowledges; a replay answers 410 and changes nothing. Already acknowledged by someone else, or resolved: 200 with applied false.",
  })
  @ApiParam(TOKEN_PARAM)
  @ApiProduces('text/html', 'application/json')
  @ApiOkResponse({ description: 'Acknowledged (applied true), or nothing left to do (applied false)', content: PAGE_OR_JSON })
  @ApiUnauthorizedResponse({ description: 'A token with a bad signature (forged, or signed with another key)', content: PAGE_OR_JSON })
  @ApiNotFoundResponse({ description: 'Not a token at all, or its incident or user is unknown', content: PAGE_OR_JSON })
  @ApiForbiddenResponse({ description: "The link's user is deactivated", content: PAGE_OR_JSON })
  @ApiGoneResponse({ description: 'Expired, or already used (a replay)', content: PAGE_OR_JSON })
  async acknowledge(@Param('token') token: string, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    this.answer(reply, accept, await this.links.acknowledge(token));
  }

  @Public()
  @ApiExcludeEndpoint()
  @Get('*')
  async showLong(@Param('*') token: string, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    this.answer(reply, accept, await this.links.look(token));
  }

  @Public()
  @ApiExcludeEndpoint()
  @Post('*')
  async acknowledgeLong(@Param('*') token: string, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    this.answer(reply, accept, await this.links.acknowledge(token));
  }

  private answer(reply: FastifyReply, accept: string | undefined, outcome: AckOutcome): void {
    void reply
      .status(outcome.status)
      // The token is a credential: no cache keeps the page, no Referer carries the address on.
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('x-robots-tag', 'noindex, nofollow');
    if (!prefersHtml(accept)) {
      // A refusal answers in the API's error envelope, like every other route.
      if (outcome.kind === 'refused') throw refusalError(outcome);
      void reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(ackJson(outcome)));
      return;
    }
    const link = 'incident' in outcome ? incidentLink(this.config.server.public_url, outcome.incident.id) : undefined;
    void reply.header('content-security-policy', PAGE_CSP).header('content-type', 'text/html; charset=utf-8').send(ackPage(outcome, link));
  }
}

/** A refusal as the API's error: the HTTP filter answers it in the error envelope. */
function refusalError(outcome: Extract<AckOutcome, { kind: 'refused' }>): DomainError {
  const code = { 401: ErrorCode.UNAUTHENTICATED, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.LINK_NOT_VALID, 410: ErrorCode.LINK_GONE }[outcome.status];
  return new DomainError(code, REFUSALS[outcome.reason], { reason: outcome.reason, ...(outcome.incident_id ? { incident_id: outcome.incident_id } : {}) });
}

/**
 * Whether the Accept header asks for HTML above JSON, as a browser's does (text/html named). No
 * header, `*\/*` alone (curl, ntfy's button) or JSON first: JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = 0;
  let html = 0;
  for (const range of accept.split(',', 32)) {
    const [type, ...params] = range.split(';');
    const q = Number(
      params
        .find((p) => p.trim().startsWith('q='))
        ?.trim()
        .slice(2) ?? '1',
    );
    const weight = Number.isFinite(q) ? q : 0;
    const media = type.trim().toLowerCase();
    if (media === 'application/json' || media === 'application/*') json = Math.max(json, weight);
    if (media === 'text/html' || media === 'text/*') html = Math.max(html, weight);
  }
  return html > json;
}

/** The JSON answer: what happened, in one line. */
export function ackJson(outcome: AckOutcome): { incident_id: string | null; applied: boolean; text: string } {
  return {
    incident_id: outcome.kind === 'refused' ? outcome.incident_id : outcome.incident.id,
    applied: outcome.kind === 'acknowledged',
    text: headlineOf(outcome),
  };
}

function headlineOf(outcome: AckOutcome): string {
  switch (outcome.kind) {
    case 'acknowledged':
      return `Acknowledged by ${outcome.user.name}`;
    case 'confirm':
    case 'moot':
      if (outcome.kind === 'confirm' && outcome.open) return `Acknowledge ${outcome.incident.severity} ${outcome.incident.title} as ${outcome.user.name}?`;
      if (outcome.incident.acknowledged_at !== null) return `Already acknowledged by ${outcome.incident.acknowledged_by ?? 'someone'}`;
      return `The incident is ${outcome.incident.state}: nothing to acknowledge`;
    case 'refused':
      return REFUSALS[outcome.reason];
  }
}

const REFUSALS: Record<Extract<AckOutcome, { kind: 'refused' }>['reason'], string> = {
  malformed: 'This link is not valid',
  forged: 'This link is not valid',
  off: 'This link is not valid',
  unknown_user: 'This link is not valid',
  unknown_incident: 'This link is not valid',
  expired: 'This link has expired',
  used: 'This link was already used',
  user_inactive: "This link's person is deactivated",
};

const STYLE = [
  'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1b1b1b;background:#f4f5f7}',
  'main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}',
  '.card{background:#fff;border-radius:8px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.2)}',
  'h1{font-size:1.35rem;line-height:1.3;margin:0 0 .75rem}',
  '.sev{display:inline-block;padding:.05rem .5rem;border-radius:4px;font-weight:700;color:#fff;margin-right:.35rem}',
  '.P0{background:#b00000}.P1{background:#c2410c}.P2{background:#f7b801;color:#1b1b1b}.P3{background:#0067a0}.P4{background:#d9f2f8;color:#1b1b1b}',
  'dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem;margin:1rem 0}',
  'dt{color:#555}dd{margin:0;overflow-wrap:anywhere}',
  'button{width:100%;min-height:3rem;font:inherit;font-size:1.1rem;font-weight:700;color:#fff;background:#1a56db;border:0;border-radius:6px;cursor:pointer}',
  'button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}',
  '.note{color:#555;font-size:.9rem;margin-top:1rem}a{color:#1a56db}',
].join('');

/** Nothing loads from anywhere: the one style block, by its hash; the form posts only here. */
const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The whole page: self-contained (no script, no image, no external style), readable on a phone. */
export function ackPage(outcome: AckOutcome, consoleLink?: string): string {
  const title = headlineOf(outcome);
  let body: string;
  if (outcome.kind === 'refused') {
    body = `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(REFUSAL_DETAIL[outcome.reason])}</p>`;
  } else {
    const { incident, user } = outcome;
    const details = `<dl><dt>Incident</dt><dd><span class="sev ${incident.severity}">${escapeHtml(incident.severity)}</span>${escapeHtml(incident.title)}</dd>
<dt>State</dt><dd>${escapeHtml(incident.state)}</dd>
${incident.acknowledged_at !== null ? `<dt>Acknowledged</dt><dd>by ${escapeHtml(incident.acknowledged_by ?? 'someone')} at ${escapeHtml(incident.acknowledged_at.slice(0, 19).replace('T', ' '))} UTC</dd>\n` : ''}<dt>You</dt><dd>${escapeHtml(user.name)} (${escapeHtml(user.email)})</dd></dl>`;
    const heading =
      outcome.kind === 'confirm' && outcome.open ? 'Acknowledge this incident?' : outcome.kind === 'acknowledged' ? 'Acknowledged' : escapeHtml(title);
    const action =
      outcome.kind === 'confirm' && outcome.open
        ? `<form method="post"><button type="submit">Acknowledge as ${escapeHtml(user.name)}</button></form>
<p class="note">Acknowledging tells everyone you are on it and stops the escalation. This link works once.</p>`
        : outcome.kind === 'acknowledged'
          ? `<p>You acknowledged it as ${escapeHtml(user.name)}: the escalation has stopped.</p>`
          : '';
    body = `<h1>${heading}</h1>\n${details}\n${action}`;
  }
  const open = consoleLink ? `\n<p class="note"><a href="${escapeHtml(consoleLink)}">Open the incident in the console</a></p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><div class="card">
${body}${open}
</div></main></body></html>`;
}

const REFUSAL_DETAIL: Record<Extract<AckOutcome, { kind: 'refused' }>['reason'], string> = {
  malformed: 'It was not made by this service, or it was cut short. Acknowledge from the console or the notification instead.',
  forged: 'It was not made by this service, or it was cut short. Acknowledge from the console or the notification instead.',
  off: 'Acknowledgement links are not set up on this service. Acknowledge from the console instead.',
  unknown_user: 'Its person or incident is no longer known here. Acknowledge from the console instead.',
  unknown_incident: 'Its person or incident is no longer known here. Acknowledge from the console instead.',
  expired: 'Links work for a limited time after they are sent. Acknowledge from the console or a newer notification.',
  used: 'Each link works once. Open the incident in the console to see who acknowledged it.',
  user_inactive: 'The person this link acts for can no longer act. Acknowledge from the console instead.',
};
