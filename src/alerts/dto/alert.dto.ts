import { LoopPacer } from '../../common/loop-pacer';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUrl, Length, MaxLength } from 'class-validator';
import { IsStringMap } from '../../common/validators';
import { INCIDENT_TYPES, IncidentType, SEVERITIES, Severity } from '../../incidents/domain/incident';
import { ValidationFailed } from '../../common/domain-error';
import { toValidDto } from '../../common/validation';

export const MAX_ALERTS_PER_BATCH = 1000;

export class AlertDto {
  @ApiProperty({ maxLength: 255, example: 'prometheus', description: 'The monitoring system that sent the alert.' })
  @IsString()
  @Length(1, 255)
  source!: string;

  @ApiProperty({ maxLength: 500, example: 'High error rate on api-gateway' })
  @IsString()
  @Length(1, 500)
  title!: string;

  @ApiProperty({ maxLength: 20000, example: '5xx ratio above 5% for 5 minutes' })
  @IsString()
  @MaxLength(20000)
  description!: string;

  @ApiProperty({ enum: SEVERITIES, enumName: 'Severity', example: 'P1' })
  @IsIn(SEVERITIES)
  severity!: Severity;

  @ApiProperty({ enum: INCIDENT_TYPES, enumName: 'IncidentType', example: 'Application', description: 'Becomes the incident_type.' })
  @IsIn(INCIDENT_TYPES)
  alert_type!: IncidentType;

  @ApiPropertyOptional({ maxLength: 255, description: "The sender's id; a repeat from the same source is answered with the first result and counted once." })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  external_id?: string;

  @ApiPropertyOptional({ maxLength: 255, description: 'When given, the fingerprint is (source, dedup_key) only.' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  dedup_key?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { env: 'prod' } })
  @IsOptional()
  @IsStringMap({ maxKeys: 64, maxLength: 1024 })
  labels?: Record<string, string>;

  @ApiPropertyOptional({ type: [String], maxItems: 100, example: ['api-gateway'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 255, { each: true })
  affected_services?: string[];

  @ApiPropertyOptional({ format: 'uri', maxLength: 2048, example: 'https://runbooks.example.com/api-gateway' })
  @IsOptional()
  @IsUrl({ require_protocol: true, require_tld: false })
  @MaxLength(2048)
  runbook_url?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsStringMap({ maxKeys: 64, maxLength: 8192 })
  annotations?: Record<string, string>;
}

export class AlertAnswerView {
  @ApiProperty({ format: 'uuid' }) alert_id!: string;
  @ApiProperty({ format: 'uuid' }) incident_id!: string;
  @ApiProperty({ enum: ['Accepted', 'Duplicate'], description: 'Accepted: a new incident was opened. Duplicate: folded into an open one.' })
  status!: 'Accepted' | 'Duplicate';
  @ApiProperty() message!: string;
}

export class AlertView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) incident_id!: string;
  @ApiProperty({ enum: ['Accepted', 'Duplicate'] }) status!: string;
  @ApiProperty() source!: string;
  @ApiProperty({ nullable: true, type: String }) external_id!: string | null;
  @ApiProperty() title!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: SEVERITIES, enumName: 'Severity' }) severity!: string;
  @ApiProperty({ enum: INCIDENT_TYPES, enumName: 'IncidentType' }) alert_type!: string;
  @ApiProperty({ nullable: true, type: String }) dedup_key!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Record<string, string>;
  @ApiProperty({ type: [String] }) affected_services!: string[];
  @ApiProperty({ nullable: true, type: String }) runbook_url!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) annotations!: Record<string, string>;
  @ApiProperty() fingerprint!: string;
  @ApiProperty({ format: 'date-time' }) received_at!: string;
}

/**
 * A batch of alerts, validated whole: every bad field of every alert is named (`path(i)` prefixes
 * them, e.g. "[3].severity" on REST, "alerts[3].severity" on gRPC), and nothing is stored unless
 * all are valid.
 */
export async function toValidAlertBatch(items: unknown[], field: string, path: (index: number) => string): Promise<AlertDto[]> {
  if (items.length === 0 || items.length > MAX_ALERTS_PER_BATCH) {
    throw new ValidationFailed([{ field, message: `a batch holds 1 to ${MAX_ALERTS_PER_BATCH} alerts, got ${items.length}` }]);
  }
  const issues: ValidationFailed['issues'] = [];
  const dtos: AlertDto[] = [];
  // A thousand alerts take about 100 ms to validate: in slices, so the event loop is shared.
  const pacer = new LoopPacer();
  for (let index = 0; index < items.length; index++) {
    try {
      dtos.push(toValidDto(AlertDto, items[index], path(index)));
    } catch (err) {
      if (!(err instanceof ValidationFailed)) throw err;
      issues.push(...err.issues);
    }
    await pacer.pace();
  }
  if (issues.length > 0) throw new ValidationFailed(issues, 'batch rejected, nothing stored');
  return dtos;
}
