import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { IsStringMap } from '../common/validators';
import { INCIDENT_TYPES, IncidentType, SEVERITIES, Severity } from '../incidents/domain/incident';

/** An incident by id, or the fields routes match on (the ones left out count as empty). */
export class ExplainRoutingDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Explain the routing of this incident; the other fields are then not allowed.' })
  @IsOptional()
  @IsUUID()
  incident_id?: string;

  @ApiPropertyOptional({ enum: SEVERITIES })
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @ApiPropertyOptional({ example: 'prometheus' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  source?: string;

  @ApiPropertyOptional({ enum: INCIDENT_TYPES })
  @IsOptional()
  @IsIn(INCIDENT_TYPES)
  incident_type?: IncidentType;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  affected_resources?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { team: 'payments' } })
  @IsOptional()
  @IsStringMap({ maxKeys: 100, maxLength: 1000 })
  labels?: Record<string, string>;
}
