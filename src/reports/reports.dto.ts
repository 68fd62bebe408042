import { IsInstant } from '../common/validators';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { SEVERITIES, Severity } from '../incidents/domain/incident';

/** The longest range a report covers. */
export const MAX_REPORT_DAYS = 366;
/** The range a report covers when `from` is not given: this many days before `to`. */
export const DEFAULT_REPORT_DAYS = 7;
/** The team of an incident without a `team` label. */
export const NO_TEAM = '(none)';

export class ResponseReportQuery {
  @ApiPropertyOptional({ format: 'date-time', description: `Start of the range, inclusive. Defaults to ${DEFAULT_REPORT_DAYS} days before \`to\`.` })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: `End of the range, exclusive; at most ${MAX_REPORT_DAYS} days after \`from\`. Defaults to now.` })
  @IsOptional()
  @IsInstant()
  to?: string;

  @ApiPropertyOptional({
    example: 'payments',
    description: `Only incidents whose \`team\` label is this (\`${NO_TEAM}\`: those without one), and their notifications.`,
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  team?: string;
}

export class IncidentCountsView {
  @ApiProperty({ description: 'Incidents created in the range.' }) total!: number;
  @ApiProperty({ description: 'Of those, acknowledged by now (however late).' }) acknowledged!: number;
  @ApiProperty() unacknowledged!: number;
  @ApiProperty({ description: 'Of those, resolved by now (at least once: a reopened incident counts from its first resolution).' }) resolved!: number;
  @ApiProperty() unresolved!: number;
}

export class DurationStatsView {
  @ApiProperty({ type: Number, nullable: true, description: 'Seconds, to the millisecond; null when no incident counts.' }) mean!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '90th percentile by the nearest-rank method, seconds; null when no incident counts.' })
  p90!: number | null;
}

export class ResponseTimesView {
  @ApiProperty({ description: 'Incidents created in the range.' }) incidents!: number;
  @ApiProperty() acknowledged!: number;
  @ApiProperty() resolved!: number;
  @ApiProperty({ type: DurationStatsView }) time_to_acknowledge_secs!: DurationStatsView;
  @ApiProperty({ type: DurationStatsView }) time_to_resolve_secs!: DurationStatsView;
}

export class SeverityResponseView extends ResponseTimesView {
  @ApiProperty({ enum: SEVERITIES, enumName: 'Severity' }) severity!: Severity;
}

export class TeamResponseView extends ResponseTimesView {
  @ApiProperty({ example: 'payments', description: `The incidents' \`team\` label; \`${NO_TEAM}\` for those without one.` }) team!: string;
}

export class PersonLoadView {
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty({ description: 'Their name at their latest notification in the range.' }) user_name!: string;
  @ApiProperty({ description: 'Times they were notified (each time may use several methods).' }) notifications!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { slack: 3, email: 2 }, description: 'Notifications by contact method.' })
  by_method!: Record<string, number>;
}

export class NobodyReachedView {
  @ApiProperty({ example: 'schedule:payments-primary', description: 'The receiver that named nobody reachable: user:…, schedule:… or team:….' })
  target!: string;
  @ApiProperty() times!: number;
}

export class ResponseReportView {
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: String, nullable: true }) team!: string | null;
  @ApiProperty({ type: IncidentCountsView }) incidents!: IncidentCountsView;
  @ApiProperty({ type: DurationStatsView, description: 'From creation to the first acknowledgement, over the acknowledged incidents.' })
  time_to_acknowledge_secs!: DurationStatsView;
  @ApiProperty({ type: DurationStatsView, description: 'From creation to the first resolution, over the resolved incidents.' })
  time_to_resolve_secs!: DurationStatsView;
  @ApiProperty({ type: [SeverityResponseView], description: 'Every severity, P0 first, with or without incidents.' }) by_severity!: SeverityResponseView[];
  @ApiProperty({ type: [TeamResponseView], description: 'The teams with incidents in the range, most incidents first.' }) by_team!: TeamResponseView[];
  @ApiProperty({
    type: [PersonLoadView],
    description: 'People notified in the range (on-call load), most notified first. Suppressed notifications are not counted.',
  })
  notifications_by_person!: PersonLoadView[];
  @ApiProperty({ type: [NobodyReachedView], description: 'Notifications that reached nobody in the range, by the target that named nobody, most first.' })
  nobody_reached!: NobodyReachedView[];
}
