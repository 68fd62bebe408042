import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../../auth/access.decorators';
import { Caller, Principal } from '../../auth/request-principal';
import { ApiCommonErrors, ApiJsonBodyErrors } from '../../common/error.view';
import { IntegrationsService, NotificationAnswer } from '../integrations.service';

const NOTIFICATION_SCHEMA = {
  type: 'object',
  description: "Alertmanager's webhook notification, version 4 (fields not listed are accepted and ignored).",
  required: ['alerts'],
  properties: {
    version: { type: 'string', example: '4' },
    groupKey: { type: 'string' },
    status: { type: 'string', enum: ['firing', 'resolved'] },
    receiver: { type: 'string' },
    groupLabels: { type: 'object', additionalProperties: { type: 'string' } },
    commonLabels: { type: 'object', additionalProperties: { type: 'string' } },
    commonAnnotations: { type: 'object', additionalProperties: { type: 'string' } },
    externalURL: { type: 'string' },
    alerts: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        required: ['status', 'startsAt'],
        properties: {
          status: { type: 'string', enum: ['firing', 'resolved'] },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          annotations: { type: 'object', additionalProperties: { type: 'string' } },
          startsAt: { type: 'string', format: 'date-time' },
          endsAt: { type: 'string', format: 'date-time' },
          generatorURL: { type: 'string' },
          fingerprint: { type: 'string' },
        },
      },
    },
  },
};

const ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    alerts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          fingerprint: { type: 'string' },
          status: { type: 'string', enum: ['firing', 'resolved'] },
          result: { type: 'string', enum: ['Accepted', 'Duplicate', 'Resolved', 'Unknown'] },
          alert_id: { type: 'string', format: 'uuid' },
          incident_ids: { type: 'array', items: { type: 'string', format: 'uuid' } },
        },
      },
    },
    resolved_incidents: { type: 'array', items: { type: 'string', format: 'uuid' } },
  },
};

/** Alertmanager's webhook_configs and Grafana Alerting's webhook contact point post here. */
@ApiTags('integrations')
@ApiCommonErrors()
@Controller('v1/integrations')
export class AlertmanagerController {
  constructor(private readonly integrations: IntegrationsService) {}

  @RequireScope('alerts:write')
  @Post('alertmanager')
  @HttpCode(200)
  @ApiJsonBodyErrors()
  @ApiOperation({
    summary: 'Receive an Alertmanager webhook notification',
    description:
      'Firing alerts become alerts of this service (one incident per Alertmanager group); repeats of the same firing are counted once. Once every upstream alert of an incident is resolved, the incident resolves (method Automated) unless integrations.auto_resolve is off. One notification is one transaction; a bad alert refuses it whole, naming alerts[i].field.',
  })
  @ApiBody({ schema: NOTIFICATION_SCHEMA })
  @ApiOkResponse({ schema: ANSWER_SCHEMA })
  alertmanager(@Body() body: unknown, @Caller() caller?: Principal): Promise<NotificationAnswer> {
    return this.integrations.receiveNotification(body, 'alertmanager', caller);
  }

  @RequireScope('alerts:write')
  @Post('grafana')
  @HttpCode(200)
  @ApiJsonBodyErrors()
  @ApiOperation({
    summary: "Receive a Grafana Alerting webhook contact point's notification",
    description: "Grafana's webhook body is Alertmanager's with more fields; handled as POST /v1/integrations/alertmanager, with source grafana.",
  })
  @ApiBody({ schema: NOTIFICATION_SCHEMA })
  @ApiOkResponse({ schema: ANSWER_SCHEMA })
  grafana(@Body() body: unknown, @Caller() caller?: Principal): Promise<NotificationAnswer> {
    return this.integrations.receiveNotification(body, 'grafana', caller);
  }
}
