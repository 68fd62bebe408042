import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { ToBoolean } from '../../common/validators';
import { CONTACT_METHODS, type ContactMethod, TEAM_NOTIFY, type TeamNotify } from '../person';

export const E164 = /^\+[1-9]\d{1,14}$/;

export class NotificationRuleDto {
  @ApiProperty({ example: '5m', description: 'How long after the person is first notified of an incident (0s, 30s, 5m, 1h30m).' })
  @IsString()
  @MaxLength(32)
  after!: string;

  @ApiProperty({ enum: CONTACT_METHODS, isArray: true, example: ['slack', 'email'] })
  @IsArray()
  @ArrayMaxSize(CONTACT_METHODS.length)
  @ArrayUnique()
  @IsIn(CONTACT_METHODS, { each: true })
  methods!: ContactMethod[];
}

export class CreateUserDto {
  @ApiProperty({ example: 'Ana Lima' })
  @IsString()
  @Length(1, 255)
  name!: string;

  @ApiProperty({ example: 'ana@example.com', description: 'Unique; routing names a user as user:<email>.' })
  @IsEmail()
  @MaxLength(320)
  email!: string;

  @ApiPropertyOptional({ example: 'U024BE7LH', description: 'For Slack direct messages from the app (its chat:write scope covers them).' })
  @IsOptional()
  @Matches(/^[UW][A-Z0-9]{2,31}$/, { message: 'slack_user_id must be a Slack user id such as U024BE7LH' })
  slack_user_id?: string | null;

  @ApiPropertyOptional({ example: '+4915123456789', description: 'E.164; texts (sms) and calls (voice) go there.' })
  @IsOptional()
  @Matches(E164, { message: 'phone must be an E.164 number such as +4915123456789' })
  phone?: string | null;

  @ApiPropertyOptional({
    example: 'oncall-ana-7f3k2x',
    description: 'The ntfy topic their phone subscribes to (push). Anyone who knows a topic on a public server can read it: make it hard to guess.',
  })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'ntfy_topic must be 1 to 64 letters, digits, _ or -' })
  ntfy_topic?: string | null;

  @ApiProperty({ example: 'Europe/Berlin', description: 'IANA time zone.' })
  @IsString()
  @MaxLength(64)
  time_zone!: string;

  @ApiPropertyOptional({
    type: [NotificationRuleDto],
    description: 'How the user wants to be reached while an incident is not acknowledged. Empty: every method they have, at once.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => NotificationRuleDto)
  notification_rules?: NotificationRuleDto[];
}

export class UpdateUserDto extends PartialType(CreateUserDto) {}

export class ListUsersQuery {
  @ApiPropertyOptional({ description: 'Include deactivated users.' })
  @IsOptional()
  @ToBoolean()
  @IsBoolean()
  include_inactive?: boolean;
}

export class ContactMethodView {
  @ApiProperty({ enum: CONTACT_METHODS }) type!: ContactMethod;
  @ApiProperty({ example: 'ana@example.com' }) address!: string;
}

export class NotificationRuleView {
  @ApiProperty({ example: '5m' }) after!: string;
  @ApiProperty({ enum: CONTACT_METHODS, isArray: true }) methods!: ContactMethod[];
}

export class UserView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ type: String, nullable: true }) slack_user_id!: string | null;
  @ApiProperty({ type: String, nullable: true }) phone!: string | null;
  @ApiProperty({ type: String, nullable: true }) ntfy_topic!: string | null;
  @ApiProperty() time_zone!: string;
  @ApiProperty({ type: [ContactMethodView] }) contact_methods!: ContactMethodView[];
  @ApiProperty({ type: [NotificationRuleView], description: 'As set; the effective rules when none are set are every method at once.' })
  notification_rules!: NotificationRuleView[];
  @ApiProperty() active!: boolean;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) deactivated_at!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

export class CalendarLinkView {
  @ApiProperty({ description: "The user's shifts in every schedule, for a calendar subscription. Shown once; a new one replaces it." })
  url!: string;
  @ApiProperty({ description: 'The same token for one whole schedule: replace {schedule_id}.' }) schedule_url_template!: string;
}

export class CreateTeamDto {
  @ApiProperty({ example: 'payments' })
  @IsString()
  @Length(1, 255)
  @Matches(/^[^:\s][^:]*$/, { message: 'name must not start with a space or hold a colon' })
  name!: string;

  @ApiPropertyOptional({ type: [String], format: 'uuid', description: 'User ids, in order.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @ArrayUnique()
  @IsUUID('all', { each: true })
  member_ids?: string[];

  @ApiPropertyOptional({ type: String, nullable: true, example: 'payments-escalation', description: 'An escalation policy of the routing configuration.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  escalation_policy?: string | null;

  @ApiPropertyOptional({
    enum: TEAM_NOTIFY,
    description: 'What a route or step naming the team does: run its escalation policy (the default when it has one) or notify every member.',
  })
  @IsOptional()
  @IsIn(TEAM_NOTIFY)
  notify?: TeamNotify;
}

export class UpdateTeamDto extends PartialType(CreateTeamDto) {}

export class TeamView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String], format: 'uuid' }) member_ids!: string[];
  @ApiProperty({ type: String, nullable: true }) escalation_policy!: string | null;
  @ApiProperty({ enum: TEAM_NOTIFY }) notify!: TeamNotify;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}
