import { ApiProperty } from '@nestjs/swagger';

export class FieldIssueView {
  @ApiProperty({ example: '[3].severity' }) field!: string;
  @ApiProperty({ example: 'severity must be one of the following values: P0, P1, P2, P3, P4' }) message!: string;
}

export class ErrorDetailView {
  @ApiProperty({ example: 'VALIDATION_FAILED' }) code!: string;
  @ApiProperty() message!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'For validation errors `{"fields": [{"field", "message"}]}`; for conflicts the ids and states involved.',
  })
  details!: Record<string, unknown>;
}

/** The one error envelope every route answers with. */
export class ErrorView {
  @ApiProperty({ type: ErrorDetailView }) error!: ErrorDetailView;
}
