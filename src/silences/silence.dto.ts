import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { SILENCE_STATES, SilenceState } from './silence';

export class CreateSilenceDto {
  @ApiProperty({
    type: [String],
    example: ['team="payments"', 'severity=~"P2|P3"'],
    description: 'Alertmanager matchers (=, !=, =~, !~) on severity, source, incident_type, affected_resources or any label; all must hold.',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(1000, { each: true })
  matchers!: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'Defaults to now. A later start makes the silence a maintenance window.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  starts_at?: string;

  @ApiProperty({ format: 'date-time' })
  @IsISO8601({ strict: true })
  ends_at!: string;

  @ApiProperty({ example: 'Database failover, change CHG-1234' })
  @IsString()
  @Length(1, 2000)
  comment!: string;

  @ApiPropertyOptional({ example: 'alice', description: 'Defaults to the API key name.' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  created_by?: string;
}

export class ListSilencesQuery {
  @ApiPropertyOptional({ enum: SILENCE_STATES })
  @IsOptional()
  @IsIn(SILENCE_STATES)
  state?: SilenceState;
}

export class SilenceView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: [String] }) matchers!: string[];
  @ApiProperty({ format: 'date-time' }) starts_at!: string;
  @ApiProperty({ format: 'date-time' }) ends_at!: string;
  @ApiProperty() comment!: string;
  @ApiProperty() created_by!: string;
  @ApiProperty({ type: String, nullable: true }) api_key_name!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ enum: SILENCE_STATES, description: 'pending (a maintenance window not started yet), active or expired' }) state!: SilenceState;
}

export class PreviewSilenceDto {
  @ApiProperty({ type: [String], example: ['team="payments"'], description: 'The matchers of the silence to be; all must hold.' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(1000, { each: true })
  matchers!: string[];
}
