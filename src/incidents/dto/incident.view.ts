import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { INCIDENT_STATES, INCIDENT_TYPES, RESOLUTION_METHODS, SEVERITIES } from '../domain/incident';

/** Response shapes, for the OpenAPI document; the service returns plain domain objects of this shape. */
export class ResolutionView {
  @ApiProperty() resolved_by!: string;
  @ApiProperty({ enum: RESOLUTION_METHODS, enumName: 'ResolutionMethod' }) method!: string;
  @ApiProperty() notes!: string;
  @ApiProperty({ nullable: true, type: String }) root_cause!: string | null;
}

export class TimelineEntryView {
  @ApiProperty({ format: 'date-time' }) timestamp!: string;
  @ApiProperty({ example: 'state_changed' }) event_type!: string;
  @ApiProperty() actor!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'Name of the API key whose request made the change; absent for changes the service made itself' })
  api_key_name?: string;
}

export class NoteView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() author!: string;
  @ApiProperty() content!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class IncidentView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() title!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: SEVERITIES, enumName: 'Severity' }) severity!: string;
  @ApiProperty({ enum: INCIDENT_STATES, enumName: 'IncidentState' }) state!: string;
  @ApiProperty({ enum: INCIDENT_TYPES, enumName: 'IncidentType' }) incident_type!: string;
  @ApiProperty() source!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) resolved_at!: string | null;
  @ApiProperty({ type: [String] }) affected_resources!: string[];
  @ApiProperty({ type: [String] }) assignees!: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Record<string, string>;
  @ApiProperty({ description: 'SHA-256 fingerprint used for deduplication (docs/api.md: the deduplication rule).' }) fingerprint!: string;
  @ApiProperty({ description: 'Alerts folded into this incident, the first included.' }) alert_count!: number;
  @ApiProperty({ format: 'date-time' }) last_seen_at!: string;
  @ApiPropertyOptional({ type: ResolutionView, nullable: true }) resolution!: ResolutionView | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When someone took the incident on: acknowledge, or any move past Detected' })
  acknowledged_at!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'alice' }) acknowledged_by!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The runbook of the first alert folded into the incident that named one' })
  runbook_url!: string | null;
}

export class IncidentDetailView extends IncidentView {
  @ApiProperty({ type: [NoteView] }) notes!: NoteView[];
  @ApiProperty({ type: [TimelineEntryView], description: 'The newest 500 entries at most, oldest first; GET /v1/incidents/{id}/timeline pages the whole.' })
  timeline!: TimelineEntryView[];
  @ApiProperty({ description: 'Entries in the whole timeline.' }) timeline_total!: number;
}

export class IncidentPageView {
  @ApiProperty({ type: [IncidentView] }) items!: IncidentView[];
  @ApiProperty({ description: 'Number of incidents matching the filters.' }) total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() page_size!: number;
}
