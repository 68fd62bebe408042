import { HistoryPageQuery } from '../common/page.query';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/access.decorators';
import { Caller, Principal } from '../auth/request-principal';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { UuidParamPipe } from '../common/pipes';
import { toValidDto } from '../common/validation';
import type { AlertAnswer, StoredAlert } from './alert';
import { AlertsService } from './alerts.service';
import { MetricsService } from '../metrics/metrics.service';
import { AlertAnswerView, AlertDto, AlertView, MAX_ALERTS_PER_BATCH, toValidAlertBatch } from './dto/alert.dto';

@ApiTags('alerts')
@ApiExtraModels(AlertDto, AlertAnswerView)
@ApiCommonErrors()
@Controller('v1')
export class AlertsController {
  constructor(
    private readonly alerts: AlertsService,
    private readonly metrics: MetricsService,
  ) {}

  @RequireScope('alerts:write')
  @Post('alerts')
  @ApiJsonBodyErrors()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Submit one alert or a batch of up to 1,000',
    description:
      'Each alert is fingerprinted and either opens a new incident (Accepted) or is folded into the open incident with the same fingerprint (Duplicate). A batch is stored whole or not at all; its answer has one entry per alert, in order.',
  })
  @ApiBody({
    schema: {
      oneOf: [{ $ref: getSchemaPath(AlertDto) }, { type: 'array', items: { $ref: getSchemaPath(AlertDto) }, minItems: 1, maxItems: MAX_ALERTS_PER_BATCH }],
    },
  })
  @ApiOkResponse({
    description: 'One answer for a single alert, an array of answers for a batch.',
    schema: {
      oneOf: [{ $ref: getSchemaPath(AlertAnswerView) }, { type: 'array', items: { $ref: getSchemaPath(AlertAnswerView) } }],
    },
  })
  async submit(@Body() body: unknown, @Caller() caller?: Principal): Promise<AlertAnswer | AlertAnswer[]> {
    // Validation refusals are counted here: the service only ever sees valid alerts.
    const alerts = await this.metrics.rejectedIfThrows('api', Array.isArray(body) ? body : [body], () =>
      Array.isArray(body) ? toValidAlertBatch(body, 'body', (index) => `[${index}]`) : [toValidDto(AlertDto, body)],
    );
    const answers = await this.alerts.ingest(alerts, caller);
    return Array.isArray(body) ? answers : answers[0];
  }

  @RequireScope('incidents:read')
  @Get('incidents/:id/alerts')
  @ApiOperation({ summary: 'The alerts folded into an incident, oldest first, a page at a time (up to 1,000; X-Total-Count has them all)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: [AlertView], headers: { 'X-Total-Count': { description: 'Alerts folded into the incident', schema: { type: 'integer' } } } })
  @ApiNotFoundResponse({ type: ErrorView })
  async list(
    @Param('id', UuidParamPipe) id: string,
    @Query() query: HistoryPageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StoredAlert[]> {
    const page = await this.alerts.listForIncident(id, query);
    reply.header('x-total-count', String(page.total));
    return page.items;
  }
}
