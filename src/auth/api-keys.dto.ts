import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, IsUUID, Length } from 'class-validator';
import { SCOPES } from './api-key-format';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'prometheus', description: 'Who or what holds the key; recorded in the timeline beside every change it makes' })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['alerts:write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCOPES.length)
  @IsIn(SCOPES, { each: true })
  scopes!: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'After this instant the key stops working; absent: it does not expire' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expires_at?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'The user the key belongs to: its changes are recorded as that user, and it stops working when the user is deactivated',
  })
  @IsOptional()
  @IsUUID()
  user_id?: string;
}

export class ApiKeyView {
  @ApiProperty({ example: '3f9c2a71d04be815', description: 'The public id part of the key (lim_<id>_<secret>)' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ enum: ['active', 'expired', 'revoked'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Name of the key that created it, "cli", or how it was bootstrapped' }) created_by!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'Accurate to a minute' }) last_used_at!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) expires_at!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) revoked_at!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The user the key belongs to' }) user_id!: string | null;
}

export class CreatedApiKeyView extends ApiKeyView {
  @ApiProperty({ example: 'lim_3f9c2a71d04be815_…', description: 'The key itself. Shown only in this answer: the service keeps only a hash of its secret.' })
  key!: string;
}
