import { IsInstant } from '../../common/validators';
import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { WEEKDAYS, type Weekday } from '../schedules/layer-shifts';

const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;

export class RestrictionDto {
  @ApiProperty({ enum: WEEKDAYS, isArray: true, example: ['mon', 'tue', 'wed', 'thu', 'fri'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(7)
  @ArrayUnique()
  @IsIn(WEEKDAYS, { each: true })
  days!: Weekday[];

  @ApiProperty({ example: '09:00', description: 'HH:mm in the schedule’s time zone.' })
  @Matches(TIME_OF_DAY, { message: 'start must be a time of day such as 09:00' })
  start!: string;

  @ApiProperty({ example: '17:00', description: 'HH:mm; at or before start: the window runs past midnight.' })
  @Matches(TIME_OF_DAY, { message: 'end must be a time of day such as 17:00' })
  end!: string;
}

export class LayerDto {
  @ApiProperty({ example: 'primary' })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiProperty({ type: [String], format: 'uuid', description: 'User ids in rotation order.' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsUUID('all', { each: true })
  members!: string[];

  @ApiProperty({ example: 'weekly', description: 'daily, weekly, or a duration of at least 1h such as 12h, 2d, 2w (days and weeks in local time).' })
  @IsString()
  @MaxLength(32)
  rotation!: string;

  @ApiProperty({ example: '09:00', description: 'HH:mm in the schedule’s time zone.' })
  @Matches(TIME_OF_DAY, { message: 'handoff_time must be a time of day such as 09:00' })
  handoff_time!: string;

  @ApiProperty({ example: '2027-01-04', description: 'YYYY-MM-DD in the schedule’s time zone: the first member’s first shift starts then at handoff_time.' })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'start_date must be a date such as 2027-01-04' })
  start_date!: string;

  @ApiPropertyOptional({ type: [RestrictionDto], description: 'When the layer is on; none: always.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(14)
  @ValidateNested({ each: true })
  @Type(() => RestrictionDto)
  restrictions?: RestrictionDto[];
}

export class CreateScheduleDto {
  @ApiProperty({ example: 'payments-primary', description: 'Unique; routing names it as schedule:<name>.' })
  @IsString()
  @Length(1, 255)
  @Matches(/^[^:\s][^:]*$/, { message: 'name must not start with a space or hold a colon' })
  name!: string;

  @ApiProperty({ example: 'Europe/Berlin', description: 'IANA time zone of hand-offs and restrictions.' })
  @IsString()
  @MaxLength(64)
  time_zone!: string;

  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true })
  @IsOptional()
  @IsUUID()
  team_id?: string | null;

  @ApiProperty({ type: [LayerDto], description: 'Lowest first: a higher layer wins where it covers.' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => LayerDto)
  layers!: LayerDto[];
}

export class UpdateScheduleDto extends PartialType(CreateScheduleDto) {}

export class CreateOverrideDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  user_id!: string;

  @ApiProperty({ format: 'date-time' })
  @IsInstant()
  starts_at!: string;

  @ApiProperty({ format: 'date-time' })
  @IsInstant()
  ends_at!: string;
}

export class OnCallQuery {
  @ApiPropertyOptional({ format: 'date-time', description: 'Defaults to now.' })
  @IsOptional()
  @IsInstant()
  at?: string;
}

export class ShiftsQuery {
  @ApiProperty({ format: 'date-time' })
  @IsInstant()
  from!: string;

  @ApiProperty({ format: 'date-time', description: 'At most 93 days after from.' })
  @IsInstant()
  to!: string;
}

export class OverridesQuery {
  @ApiPropertyOptional({ format: 'date-time', description: 'Defaults to now.' })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Defaults to 31 days after from.' })
  @IsOptional()
  @IsInstant()
  to?: string;
}

export class RestrictionView {
  @ApiProperty({ enum: WEEKDAYS, isArray: true }) days!: Weekday[];
  @ApiProperty() start!: string;
  @ApiProperty() end!: string;
}

export class LayerView {
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String], format: 'uuid' }) members!: string[];
  @ApiProperty() rotation!: string;
  @ApiProperty() handoff_time!: string;
  @ApiProperty() start_date!: string;
  @ApiProperty({ type: [RestrictionView] }) restrictions!: RestrictionView[];
}

export class ScheduleView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() time_zone!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) team_id!: string | null;
  @ApiProperty({ type: [LayerView] }) layers!: LayerView[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

export class OverrideView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) schedule_id!: string;
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty({ format: 'date-time' }) starts_at!: string;
  @ApiProperty({ format: 'date-time' }) ends_at!: string;
  @ApiProperty() created_by!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class PersonRefView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() email!: string;
}

export class ShiftView {
  @ApiProperty({ format: 'date-time' }) start!: string;
  @ApiProperty({ format: 'date-time' }) end!: string;
  @ApiProperty({ type: PersonRefView }) user!: PersonRefView;
  @ApiProperty({ description: 'The layer’s name, or override.' }) source!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) override_id!: string | null;
}

export class GapView {
  @ApiProperty({ format: 'date-time' }) start!: string;
  @ApiProperty({ format: 'date-time' }) end!: string;
  @ApiProperty({ description: 'no layer covers it, or the user the layers name is deactivated' }) reason!: string;
  @ApiProperty({ type: PersonRefView, nullable: true }) inactive_user!: PersonRefView | null;
}

export class ShiftsView {
  @ApiProperty({ format: 'uuid' }) schedule_id!: string;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [ShiftView] }) shifts!: ShiftView[];
  @ApiProperty({ type: [GapView] }) gaps!: GapView[];
}

export class OnCallView {
  @ApiProperty({ format: 'uuid' }) schedule_id!: string;
  @ApiProperty() schedule_name!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: ShiftView, nullable: true, description: 'null: nobody is on call (see gap).' }) shift!: ShiftView | null;
  @ApiProperty({ type: GapView, nullable: true }) gap!: GapView | null;
}
