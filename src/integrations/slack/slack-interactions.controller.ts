import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiExtension, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Public } from '../../auth/access.decorators';
import { ApiCommonErrors, ErrorView } from '../../common/error.view';
import { SlackInteractionOutcome, SlackInteractionsService } from './slack-interactions.service';

@ApiTags('integrations')
@ApiCommonErrors()
@Controller('v1/integrations/slack')
export class SlackInteractionsController {
  constructor(private readonly interactions: SlackInteractionsService) {}

  // No API key: Slack cannot send one. Each request proves itself with Slack's signature instead.
  @Public()
  @ApiExtension('x-credential', 'header.x-slack-signature')
  @Post('interactions')
  @HttpCode(200)
  @ApiOperation({
    summary: "Slack's Interactivity Request URL: the Acknowledge and Resolve buttons",
    description:
      'application/x-www-form-urlencoded with a payload field, as Slack sends it. Verified with the signing secret (notifications.slack_signing_secret_env): a forged, older than 5 minutes or replayed request answers 401.',
  })
  @ApiOkResponse({ description: '{action, incident_id, applied, text}: applied false when the incident had already moved on (a second click)' })
  @ApiUnauthorizedResponse({ type: ErrorView, description: 'UNAUTHENTICATED: bad signature, old timestamp or replay' })
  @ApiNotFoundResponse({ type: ErrorView, description: 'NOT_CONFIGURED: no signing secret is set' })
  interact(
    @Body() body: { raw?: string } | undefined,
    @Headers('x-slack-request-timestamp') timestamp?: string,
    @Headers('x-slack-signature') signature?: string,
  ): Promise<SlackInteractionOutcome> {
    return this.interactions.handle(body?.raw, timestamp, signature);
  }
}
