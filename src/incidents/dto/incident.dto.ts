import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsObject, IsOptional, IsString, Length, Matches, MaxLength, ValidateNested } from 'class-validator';
import { PageQuery } from '../../common/page.query';
import { IsOmittable, IsStringMap, ToArray, ToBoolean } from '../../common/validators';
import {
  INCIDENT_STATES,
  INCIDENT_TYPES,
  IncidentState,
  IncidentType,
  RESOLUTION_METHODS,
  Resolution,
  ResolutionMethod,
  SEVERITIES,
  Severity,
} from '../domain/incident';

const LIST = { maxItems: 100, itemMax: 255 };

export class CreateIncidentDto {
  @ApiProperty({ maxLength: 500, example: 'API Gateway Down' })
  @IsString()
  @Length(1, 500)
  title!: string;

  @ApiProperty({ maxLength: 20000, example: 'All requests returning 503 errors' })
  @IsString()
  @MaxLength(20000)
  description!: string;

  @ApiProperty({ enum: SEVERITIES, enumName: 'Severity', example: 'P0' })
  @IsIn(SEVERITIES)
  severity!: Severity;

  @ApiProperty({ enum: INCIDENT_TYPES, enumName: 'IncidentType', example: 'Availability' })
  @IsIn(INCIDENT_TYPES)
  incident_type!: IncidentType;

  @ApiProperty({ maxLength: 255, example: 'llm-sentinel' })
  @IsString()
  @Length(1, 255)
  source!: string;

  @ApiPropertyOptional({ type: [String], maxItems: LIST.maxItems, example: ['api-gateway'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIST.maxItems)
  @IsString({ each: true })
  @Length(1, LIST.itemMax, { each: true })
  affected_resources?: string[];

  @ApiPropertyOptional({ type: [String], maxItems: LIST.maxItems, example: ['alice'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIST.maxItems)
  @IsString({ each: true })
  @Length(1, LIST.itemMax, { each: true })
  assignees?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { team: 'platform' } })
  @IsOptional()
  @IsStringMap({ maxKeys: 64, maxLength: 1024 })
  labels?: Record<string, string>;

  @ApiPropertyOptional({ description: 'Who makes the change (recorded in the timeline).', example: 'alice' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  actor?: string;
}

export class UpdateIncidentDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOmittable()
  @IsString()
  @Length(1, 500)
  title?: string;

  @ApiPropertyOptional({ maxLength: 20000 })
  @IsOmittable()
  @IsString()
  @MaxLength(20000)
  description?: string;

  @ApiPropertyOptional({ enum: SEVERITIES, enumName: 'Severity' })
  @IsOmittable()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @ApiPropertyOptional({ type: [String], description: 'Replaces the assignee list.' })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(LIST.maxItems)
  @IsString({ each: true })
  @Length(1, LIST.itemMax, { each: true })
  assignees?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'Replaces the labels.' })
  @IsOmittable()
  @IsStringMap({ maxKeys: 64, maxLength: 1024 })
  labels?: Record<string, string>;

  @ApiPropertyOptional({ description: 'Who makes the change (recorded in the timeline).' })
  @IsOmittable()
  @IsString()
  @Length(1, 255)
  actor?: string;
}

export class ResolveIncidentDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 255)
  resolved_by!: string;

  @ApiProperty({ enum: RESOLUTION_METHODS, enumName: 'ResolutionMethod', example: 'Manual' })
  @IsIn(RESOLUTION_METHODS)
  method!: ResolutionMethod;

  @ApiProperty({ example: 'Restarted the gateway pods' })
  @IsString()
  @MaxLength(20000)
  notes!: string;

  @ApiPropertyOptional({ nullable: true, example: 'Memory leak in v2.3.1' })
  @IsOptional()
  @IsString()
  @MaxLength(20000)
  root_cause?: string | null;
}

export class TransitionIncidentDto {
  @ApiProperty({ enum: INCIDENT_STATES, enumName: 'IncidentState', example: 'Investigating' })
  @IsIn(INCIDENT_STATES)
  state!: IncidentState;

  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 255)
  actor!: string;

  @ApiPropertyOptional({ example: 'Looking at the gateway logs' })
  @IsOptional()
  @IsString()
  @MaxLength(20000)
  note?: string;

  @ApiPropertyOptional({ type: ResolveIncidentDto, description: 'Required when state is Resolved.' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ResolveIncidentDto)
  resolution?: ResolveIncidentDto;
}

export class CloseIncidentDto {
  @ApiPropertyOptional({ example: 'alice', description: 'Defaults to "system".' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  actor?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(20000)
  note?: string;
}

export class AcknowledgeIncidentDto {
  @ApiPropertyOptional({ example: 'alice', description: 'Who takes the incident on. Defaults to the API key name.' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  actor?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(20000)
  note?: string;
}

export class AddNoteDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 255)
  author!: string;

  @ApiProperty({ example: 'Rolled back to v2.3.0' })
  @IsString()
  @Length(1, 20000)
  content!: string;
}

export const INCIDENT_SORTS = ['newest', 'open_first', 'urgent'] as const;

export class ListIncidentsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: INCIDENT_STATES, enumName: 'IncidentState', isArray: true, description: 'Repeat to match any of several.' })
  @IsOptional()
  @ToArray()
  @IsIn(INCIDENT_STATES, { each: true })
  state?: IncidentState[];

  @ApiPropertyOptional({ enum: SEVERITIES, enumName: 'Severity', isArray: true })
  @IsOptional()
  @ToArray()
  @IsIn(SEVERITIES, { each: true })
  severity?: Severity[];

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @ToArray()
  @IsString({ each: true })
  source?: string[];

  @ApiPropertyOptional({ enum: INCIDENT_TYPES, enumName: 'IncidentType', isArray: true })
  @IsOptional()
  @ToArray()
  @IsIn(INCIDENT_TYPES, { each: true })
  incident_type?: IncidentType[];

  @ApiPropertyOptional({ type: Boolean, description: 'Only Detected, Triaged, Investigating and Remediating.' })
  @IsOptional()
  @ToBoolean()
  @IsBoolean()
  active_only?: boolean;

  @ApiPropertyOptional({
    type: [String],
    description: 'name=value: only incidents with this label value. Repeat to require several.',
    example: ['team=payments'],
  })
  @IsOptional()
  @ToArray()
  @ArrayMaxSize(20)
  // PostgreSQL text cannot hold NUL: a value with one would fail the query instead of matching nothing.
  // eslint-disable-next-line no-control-regex
  @Matches(/^[A-Za-z_][A-Za-z0-9_./-]{0,99}=[^\u0000]{0,500}$/, {
    each: true,
    message: 'each label filter must be name=value, the name of letters, digits, _ . / -',
  })
  label?: string[];

  @ApiPropertyOptional({ description: 'Text in the title or description (case-insensitive), or an incident id', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @ApiPropertyOptional({
    enum: INCIDENT_SORTS,
    default: 'newest',
    description:
      'open_first: incidents not Resolved or Closed first, each part newest first; urgent (the console): open ones first, then by severity (P0 first), then newest first',
  })
  @IsOptional()
  @IsIn(INCIDENT_SORTS)
  sort?: (typeof INCIDENT_SORTS)[number];
}

/** The resolution a resolve request describes (root_cause null when not given). */
export function resolutionOf(dto: ResolveIncidentDto): Resolution {
  return { resolved_by: dto.resolved_by, method: dto.method, notes: dto.notes, root_cause: dto.root_cause ?? null };
}

/** GET /v1/incidents/events: the filters of gRPC StreamIncidents. */
export class StreamIncidentsQuery {
  @ApiPropertyOptional({
    enum: INCIDENT_STATES,
    enumName: 'IncidentState',
    isArray: true,
    description: 'Only events of incidents (after the change) in one of these states.',
  })
  @IsOptional()
  @ToArray()
  @IsIn(INCIDENT_STATES, { each: true })
  state?: IncidentState[];

  @ApiPropertyOptional({
    enum: SEVERITIES,
    enumName: 'Severity',
    isArray: true,
    description: 'Only events of incidents (after the change) of one of these severities.',
  })
  @IsOptional()
  @ToArray()
  @IsIn(SEVERITIES, { each: true })
  severity?: Severity[];
}
