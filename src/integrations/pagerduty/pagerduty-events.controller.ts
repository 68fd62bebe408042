import { ArgumentsHost, Body, Catch, Controller, ExceptionFilter, HttpCode, Logger, Post, UseFilters } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScope } from '../../auth/access.decorators';
import { Caller, Principal } from '../../auth/request-principal';
import { ValidationFailed } from '../../common/domain-error';
import { errorBodyOf, sendError } from '../../common/http-exception.filter';
import { IntegrationsService } from '../integrations.service';

/**
 * Errors in PagerDuty's own shape, {"status", "message", "errors"}: the senders are PagerDuty
 * clients and read these fields. Statuses stay this service's (401, 403, 429 with Retry-After).
 */
@Catch()
export class PagerDutyErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('PagerDutyEvents');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const { error } = errorBodyOf(exception, http.getRequest<FastifyRequest>().id);
    if (error.code === 'INTERNAL')
      this.logger.error({ msg: 'unhandled error', request_id: error.request_id, err: exception instanceof Error ? exception.stack : String(exception) });
    const errors = exception instanceof ValidationFailed ? exception.issues.map((i) => `${i.field} ${i.message}`) : [error.message];
    const status = STATUS_TEXT[error.status] ?? (error.status >= 500 ? 'error' : 'invalid event');
    const message = error.status === 400 ? 'Event object is invalid' : error.code === 'INTERNAL' ? 'internal server error' : error.message;
    sendError(http.getResponse<FastifyReply>(), error, {
      status,
      message,
      errors: error.status >= 500 ? [] : errors,
      code: error.code,
      request_id: error.request_id,
    });
  }
}

const STATUS_TEXT: Record<number, string> = { 400: 'invalid event', 401: 'unauthorized', 403: 'forbidden', 429: 'throttle event', 503: 'unavailable' };

const EVENT_SCHEMA = {
  type: 'object',
  required: ['routing_key', 'event_action'],
  properties: {
    routing_key: { type: 'string', description: 'An API key of this service with the alerts:write scope.' },
    event_action: { type: 'string', enum: ['trigger', 'acknowledge', 'resolve'] },
    dedup_key: { type: 'string', maxLength: 255 },
    payload: {
      type: 'object',
      required: ['summary', 'source', 'severity'],
      properties: {
        summary: { type: 'string', maxLength: 1024 },
        source: { type: 'string' },
        severity: { type: 'string', enum: ['critical', 'error', 'warning', 'info'] },
        timestamp: { type: 'string', format: 'date-time' },
        component: { type: 'string' },
        group: { type: 'string' },
        class: { type: 'string' },
        custom_details: { type: 'object' },
      },
    },
    client: { type: 'string' },
    client_url: { type: 'string' },
    links: { type: 'array', items: { type: 'object', properties: { href: { type: 'string' }, text: { type: 'string' } } } },
    images: { type: 'array', items: { type: 'object', properties: { src: { type: 'string' }, href: { type: 'string' }, alt: { type: 'string' } } } },
  },
};

/**
 * PagerDuty Events API v2, at PagerDuty's own path: a tool that pages PagerDuty sends here by
 * changing only its events URL; the routing key it sends is an API key of this service.
 */
@ApiTags('integrations')
@UseFilters(PagerDutyErrorFilter)
@Controller()
export class PagerDutyEventsController {
  constructor(private readonly integrations: IntegrationsService) {}

  @RequireScope('alerts:write', { credential: 'routing_key' })
  @Post(['v2/enqueue', 'v1/integrations/pagerduty/enqueue'])
  @HttpCode(202)
  @ApiOperation({
    summary: 'Receive a PagerDuty Events API v2 event',
    description:
      'trigger opens or folds into the incident keyed by dedup_key (made up and answered when absent); acknowledge moves a Detected incident to Triaged; resolve resolves it (method Automated). Severities: critical → P0, error → P1, warning → P2, info → P3. The key is the body’s routing_key, not an Authorization header. Errors answer in PagerDuty’s shape.',
  })
  @ApiBody({ schema: EVENT_SCHEMA })
  @ApiResponse({
    status: 202,
    schema: {
      type: 'object',
      properties: { status: { type: 'string', example: 'success' }, message: { type: 'string', example: 'Event processed' }, dedup_key: { type: 'string' } },
    },
  })
  @ApiResponse({
    status: 400,
    description: 'invalid event',
    schema: {
      type: 'object',
      properties: { status: { type: 'string', example: 'invalid event' }, message: { type: 'string' }, errors: { type: 'array', items: { type: 'string' } } },
    },
  })
  async enqueue(@Body() body: unknown, @Caller() caller?: Principal): Promise<{ status: 'success'; message: string; dedup_key: string }> {
    const { dedup_key } = await this.integrations.receivePagerDutyEvent(body, caller);
    return { status: 'success', message: 'Event processed', dedup_key };
  }
}
