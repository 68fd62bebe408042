import { RequireScope } from '../auth/access.decorators';
import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiExtraModels, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { UuidParamPipe } from '../common/pipes';
import {
  CustomNotificationDto,
  DeadLettersQuery,
  EmailChannelDto,
  PagerDutyChannelDto,
  SlackChannelDto,
  TestNotificationDto,
  WebhookChannelDto,
} from './dto/notification.dto';
import { ChannelStatsView, DeadLetterPageView, DeliveryView, NotificationIdsView, NotificationStatsView, TestNotificationView } from './dto/notification.view';
import { DeliveryRecord, NotificationsService, TestOutcome } from './notifications.service';

@ApiTags('notifications')
@ApiExtraModels(SlackChannelDto, EmailChannelDto, PagerDutyChannelDto, WebhookChannelDto, ChannelStatsView)
@ApiCommonErrors()
@Controller('v1')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @RequireScope('incidents:read')
  @Get('incidents/:id/notifications')
  @ApiOperation({ summary: 'The delivery log of an incident: every notification, its status, attempts and last error' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: [DeliveryView] })
  @ApiNotFoundResponse({ type: ErrorView, description: 'INCIDENT_NOT_FOUND' })
  list(@Param('id', UuidParamPipe) id: string): Promise<DeliveryRecord[]> {
    return this.notifications.listForIncident(id);
  }

  @RequireScope('notifications:write')
  @Post('incidents/:id/notifications')
  @HttpCode(202)
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Send a custom notification about an incident to explicit channels; queued durably, answered at once' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: NotificationIdsView })
  @ApiNotFoundResponse({ type: ErrorView, description: 'INCIDENT_NOT_FOUND' })
  async notify(@Param('id', UuidParamPipe) id: string, @Body() dto: CustomNotificationDto): Promise<{ notification_ids: string[] }> {
    return { notification_ids: await this.notifications.notify(id, dto) };
  }

  @RequireScope('notifications:write')
  @Post('notifications/:id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Re-drive a failed or cancelled notification with a fresh set of attempts' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: DeliveryView })
  @ApiNotFoundResponse({ type: ErrorView, description: 'NOTIFICATION_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorView, description: 'NOT_RETRYABLE: the notification is pending, sending or sent' })
  retry(@Param('id', UuidParamPipe) id: string): Promise<DeliveryRecord> {
    return this.notifications.retry(id);
  }

  @RequireScope('incidents:read', { expensive: true })
  @Get('notifications/dead-letters')
  @ApiOperation({ summary: 'The dead letters: notifications that failed for good, most recent first (re-drive one with POST /v1/notifications/{id}/retry)' })
  @ApiOkResponse({ type: DeadLetterPageView })
  deadLetters(@Query() query: DeadLettersQuery): Promise<object> {
    return this.notifications.deadLetters(query.page ?? 1, query.page_size ?? 50);
  }

  @RequireScope('incidents:read')
  @Get('notifications/stats')
  @ApiOperation({ summary: 'Channels (enabled, configured), queue and workers, and delivery counts per channel' })
  @ApiOkResponse({ type: NotificationStatsView })
  stats(): Promise<object> {
    return this.notifications.stats();
  }

  @RequireScope('notifications:write')
  @Post('notifications/test')
  @HttpCode(200)
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Send a test message through a channel now and answer what the target said' })
  @ApiOkResponse({ type: TestNotificationView })
  test(@Body() dto: TestNotificationDto): Promise<TestOutcome> {
    return this.notifications.test(dto.channel);
  }
}
