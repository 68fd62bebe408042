import { Untransformed } from '../../common/validation';
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsEmail, IsIn, IsObject, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { PageQuery } from '../../common/page.query';
import { IsHttpUrl } from '../../common/validators';
import { RECEIVER_CHANNELS, ReceiverChannel } from '../notification';

export class SlackChannelDto {
  @ApiProperty({ enum: ['slack'] }) @IsIn(['slack']) type!: 'slack';

  @ApiPropertyOptional({
    example: '#security-incidents',
    description: 'Defaults to notifications.slack_default_channel. An incoming webhook is bound to its own channel and ignores this.',
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  channel?: string;

  @ApiPropertyOptional({ example: '🚨 Security incident detected!', description: 'Defaults to the request message.' })
  @IsOptional()
  @IsString()
  @Length(1, 40_000)
  message?: string;
}

export class EmailChannelDto {
  @ApiProperty({ enum: ['email'] }) @IsIn(['email']) type!: 'email';

  @ApiProperty({ type: [String], example: ['oncall@example.com', 'security@example.com'], maxItems: 50 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsEmail({}, { each: true })
  to!: string[];

  @ApiProperty({ example: 'Security Incident Alert', maxLength: 998 })
  @IsString()
  @Length(1, 998)
  subject!: string;

  @ApiPropertyOptional({ example: 'A security incident has been detected...', description: 'Defaults to the request message.' })
  @IsOptional()
  @IsString()
  @MaxLength(100_000)
  body?: string;
}

export class PagerDutyChannelDto {
  @ApiProperty({ enum: ['pagerduty'] }) @IsIn(['pagerduty']) type!: 'pagerduty';

  @ApiProperty({ description: 'The integration (routing) key of the PagerDuty service. Stored to send it, never shown again.', example: 'your-service-key' })
  @IsString()
  @Length(1, 255)
  service_key!: string;

  @ApiPropertyOptional({ description: 'dedup_key of the PagerDuty event; defaults to the incident id.', maxLength: 255 })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  incident_key?: string;
}

export class WebhookChannelDto {
  @ApiProperty({ enum: ['webhook'] }) @IsIn(['webhook']) type!: 'webhook';

  @ApiProperty({
    example: 'https://your-service.com/webhook',
    description:
      'Stored to send it; shown only as scheme, host and a hash. Must resolve to public addresses only, unless [outbound] allows the host or range (docs/security.md).',
  })
  @IsString()
  @MaxLength(2048)
  @IsHttpUrl()
  url!: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { custom_field: 'custom_value' },
    description:
      'Sent as the body, as given. Defaults to the default webhook payload (event_type, timestamp, incident, notification_id) with event_type "notification.custom".',
  })
  @IsOptional()
  @IsObject()
  @Untransformed()
  payload?: Record<string, unknown>;
}

export const CHANNEL_DTOS = { slack: SlackChannelDto, email: EmailChannelDto, pagerduty: PagerDutyChannelDto, webhook: WebhookChannelDto };
export type ChannelDto = SlackChannelDto | EmailChannelDto | PagerDutyChannelDto | WebhookChannelDto;

export class CustomNotificationDto {
  @ApiProperty({ example: 'Custom notification', maxLength: 10_000 })
  @IsString()
  @Length(1, 10_000)
  message!: string;

  @ApiProperty({
    description: 'Where to send it: each item is one channel, told apart by `type`.',
    type: 'array',
    items: { oneOf: [SlackChannelDto, EmailChannelDto, PagerDutyChannelDto, WebhookChannelDto].map((cls) => ({ $ref: getSchemaPath(cls) })) },
    maxItems: 20,
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @IsObject({ each: true })
  // Each channel is validated by its own DTO (with a webhook's payload kept as parsed), so
  // class-transformer must not walk them here: it fails on a key named "constructor".
  @Untransformed()
  channels!: object[];

  @ApiPropertyOptional({ maxLength: 255, example: 'alice' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  actor?: string;
}

export class TestNotificationDto {
  @ApiProperty({ enum: RECEIVER_CHANNELS, example: 'webhook' })
  @IsIn(RECEIVER_CHANNELS)
  channel!: ReceiverChannel;
}

/** The dead letters, a page at a time. */
export class DeadLettersQuery extends PageQuery {}
