import { ApiProperty } from '@nestjs/swagger';
import { CHANNELS, DELIVERY_STATUSES } from '../notification';

export class DeliveryView {
  @ApiProperty({ format: 'uuid' }) notification_id!: string;
  @ApiProperty({ format: 'uuid' }) incident_id!: string;
  @ApiProperty({ example: 'incident.detected' }) event!: string;
  @ApiProperty({ enum: CHANNELS }) channel!: string;
  @ApiProperty({ example: 'trigger', description: 'post, resolve_update, message (Slack); trigger, acknowledge, resolve (PagerDuty); send' }) action!: string;
  @ApiProperty({ example: '#incidents', description: 'Where it goes, without secrets (URLs show scheme, host and a hash)' }) target!: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty() max_attempts!: number;
  @ApiProperty({ format: 'date-time' }) next_attempt_at!: string;
  @ApiProperty({ nullable: true, type: String }) last_error!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) sent_at!: string | null;
  @ApiProperty({
    minimum: 0,
    maximum: 3,
    description: '0 goes first: pages and first notifications of P0/P1 incidents; 3 last: follow-ups of P3/P4 incidents',
  })
  priority!: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The message as rendered at the event' }) payload!: unknown;
}

export class DeadLetterPageView {
  @ApiProperty({ type: [DeliveryView] }) items!: DeliveryView[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() page_size!: number;
}

export class NotificationIdsView {
  @ApiProperty({ type: [String], format: 'uuid' }) notification_ids!: string[];
}

export class ChannelStatsView {
  @ApiProperty() enabled!: boolean;
  @ApiProperty() configured!: boolean;
  @ApiProperty({ nullable: true, type: String, example: 'environment variable SLACK_WEBHOOK_URL is not set' }) problem!: string | null;
  @ApiProperty({ description: 'Deliveries waiting in the store' }) pending!: number;
  @ApiProperty() sending!: number;
  @ApiProperty() sent!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() cancelled!: number;
  @ApiProperty({ description: 'Attempts beyond the first, over all deliveries' }) retried!: number;
}

export class NotificationStatsView {
  @ApiProperty() slack_enabled!: boolean;
  @ApiProperty() email_enabled!: boolean;
  @ApiProperty() pagerduty_enabled!: boolean;
  @ApiProperty() webhook_enabled!: boolean;
  @ApiProperty({ example: 10000 }) queue_capacity!: number;
  @ApiProperty({ example: 4 }) worker_count!: number;
  @ApiProperty({ description: 'Claimed deliveries waiting for a worker in this process' }) queue_depth!: number;
  @ApiProperty({ description: 'Attempts running in this process' }) in_flight!: number;
  @ApiProperty({ description: 'Deliveries waiting in the store, all channels' }) pending!: number;
  @ApiProperty({ type: [String], description: 'Targets currently failing (one worker at a time)' }) degraded_targets!: string[];
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/ChannelStatsView' } }) channels!: Record<string, ChannelStatsView>;
}

export class TestNotificationView {
  @ApiProperty({ enum: CHANNELS }) channel!: string;
  @ApiProperty({ example: '#incidents' }) target!: string;
  @ApiProperty() delivered!: boolean;
  @ApiProperty({ enum: ['delivered', 'retry', 'permanent'], description: 'retry: a transient failure (would be retried); permanent: refused' })
  outcome!: string;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
}
