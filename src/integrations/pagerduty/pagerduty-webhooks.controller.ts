import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiExtension, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Public } from '../../auth/access.decorators';
import { ApiCommonErrors, ErrorView } from '../../common/error.view';
import { PagerDutyWebhookOutcome, PagerDutyWebhooksService } from './pagerduty-webhooks.service';

const REFERENCE = { type: 'object', properties: { id: { type: 'string' }, summary: { type: 'string' }, type: { type: 'string' } } };

/** PagerDuty's v3 webhook envelope, as far as this route reads it. */
const WEBHOOK_SCHEMA = {
  type: 'object',
  required: ['event'],
  properties: {
    event: {
      type: 'object',
      required: ['id', 'event_type', 'occurred_at'],
      properties: {
        id: { type: 'string', maxLength: 255, description: 'Unique per event; a second delivery of the same id is refused as a replay.' },
        event_type: {
          type: 'string',
          example: 'incident.acknowledged',
          description: 'incident.acknowledged, incident.resolved and incident.reassigned are acted on; others are answered and ignored.',
        },
        resource_type: { type: 'string', example: 'incident' },
        occurred_at: { type: 'string', format: 'date-time', description: 'Refused when more than 24 hours ago.' },
        agent: { ...REFERENCE, nullable: true, description: 'Who did it: the timeline names pagerduty:<summary>.' },
        client: { type: 'object', nullable: true },
        data: {
          type: 'object',
          description: 'The PagerDuty incident.',
          properties: {
            id: { type: 'string' },
            incident_key: { type: 'string', nullable: true, maxLength: 255, description: 'The dedup_key this service sent with its page.' },
            html_url: { type: 'string' },
            assignees: { type: 'array', items: REFERENCE },
          },
        },
      },
    },
  },
};

@ApiTags('integrations')
@ApiCommonErrors()
@Controller('v1/integrations/pagerduty')
export class PagerDutyWebhooksController {
  constructor(private readonly webhooks: PagerDutyWebhooksService) {}

  // No API key: PagerDuty cannot send one. Each request proves itself with PagerDuty's signature instead.
  @Public()
  @ApiExtension('x-credential', 'header.x-pagerduty-signature')
  @Post('webhooks')
  @HttpCode(200)
  @ApiOperation({
    summary: "PagerDuty's v3 webhooks: acknowledge and resolve from PagerDuty's app",
    description:
      'The URL of a PagerDuty webhook subscription (docs/pagerduty-webhooks.md). Verified with the subscription signing secrets (integrations.pagerduty_webhook_secrets_env; any one may match): a missing or forged X-PagerDuty-Signature, an event id already received or an event older than 24 hours answers 401. The PagerDuty incident is mapped back by its incident_key, the dedup_key this service sent.',
  })
  @ApiBody({ schema: WEBHOOK_SCHEMA })
  @ApiOkResponse({
    description:
      '{event_id, event_type, incident_id, applied, reason}: applied false, with the reason, for an incident this service did not page, one already acknowledged or resolved here, and event types not acted on (pagey.ping)',
  })
  @ApiUnauthorizedResponse({
    type: ErrorView,
    description: 'UNAUTHENTICATED: missing, malformed or forged signature, replayed event id, or an event over 24 hours old',
  })
  @ApiNotFoundResponse({ type: ErrorView, description: 'NOT_CONFIGURED: no signing secret is set' })
  receive(@Body() body: { raw?: string } | undefined, @Headers('x-pagerduty-signature') signature?: string): Promise<PagerDutyWebhookOutcome> {
    return this.webhooks.handle(body?.raw, signature);
  }
}
