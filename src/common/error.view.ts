import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiInternalServerErrorResponse,
  ApiPayloadTooLargeResponse,
  ApiProperty,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';

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
  @ApiProperty({
    example: '5f0c6f1e-8a43-4d6b-9c1e-2b7d3a9e4f10',
    description: 'The x-request-id of the answer, which the log lines of the request carry: the X-Request-Id sent, when acceptable, or a new UUID.',
  })
  request_id!: string;
}

/** The one error envelope every route answers with. */
export class ErrorView {
  @ApiProperty({ type: ErrorDetailView }) error!: ErrorDetailView;
}

/** Errors any route can answer: 400 for bad parameters, 500 for a fault of the service. */
export function ApiCommonErrors(): ClassDecorator {
  return applyDecorators(
    ApiBadRequestResponse({
      type: ErrorView,
      description:
        'VALIDATION_FAILED (details.fields names each bad field; in a batch prefixed with the index, e.g. [3].severity), MALFORMED_JSON, INVALID_URL',
    }),
    ApiInternalServerErrorResponse({ type: ErrorView, description: 'INTERNAL: a fault of the service; details are logged, not returned' }),
  );
}

/** Errors of routes that take a JSON body. */
export function ApiJsonBodyErrors(): MethodDecorator {
  return applyDecorators(
    ApiPayloadTooLargeResponse({ type: ErrorView, description: 'PAYLOAD_TOO_LARGE: body over server.body_limit_bytes' }),
    ApiUnsupportedMediaTypeResponse({ type: ErrorView, description: 'UNSUPPORTED_MEDIA_TYPE: the body is not application/json' }),
  );
}
