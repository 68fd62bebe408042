import { Controller, Get, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/access.decorators';
import { ApiCommonErrors, ErrorView } from '../common/error.view';
import { UuidParamPipe } from '../common/pipes';
import { IntegrationsService, UpstreamAlertView } from './integrations.service';

class UpstreamAlertViewDto implements UpstreamAlertView {
  @ApiProperty({ enum: ['alertmanager', 'grafana'] }) integration!: string;
  @ApiProperty({ description: "The sender's fingerprint of the alert (its label set)" }) fingerprint!: string;
  @ApiProperty({ enum: ['firing', 'resolved'], description: 'As the sender last said' }) status!: 'firing' | 'resolved';
  @ApiProperty({ description: 'The alertname label, or the title' }) name!: string;
  @ApiProperty({ format: 'date-time' }) starts_at!: string;
  @ApiPropertyOptional({ type: String, nullable: true, format: 'date-time' }) ends_at!: string | null;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

/** The upstream side of an incident: each Alertmanager or Grafana alert in it and its state there. */
@ApiTags('integrations')
@ApiCommonErrors()
@Controller('v1/incidents')
export class UpstreamAlertsController {
  constructor(private readonly integrations: IntegrationsService) {}

  @RequireScope('incidents:read')
  @Get(':id/upstream-alerts')
  @ApiOperation({ summary: "The Alertmanager and Grafana alerts of an incident and each one's state upstream (firing first; at most 1,000)" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: [UpstreamAlertViewDto] })
  @ApiNotFoundResponse({ type: ErrorView })
  list(@Param('id', UuidParamPipe) id: string): Promise<UpstreamAlertView[]> {
    return this.integrations.upstreamAlertsOf(id);
  }
}
