import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequireScope } from '../auth/access.decorators';
import { ValidationFailed } from '../common/domain-error';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { IncidentsService } from '../incidents/incidents.service';
import type { Silence } from '../silences/silence';
import { SilencesService } from '../silences/silences.service';
import { formatDuration } from './duration';
import { explainRouting, Explanation, receiverView } from './explain';
import { allRoutes } from './route-matching';
import { ExplainRoutingDto } from './routing.dto';
import { ReloadOutcome, RoutingService, subjectOf } from './routing.service';

@ApiTags('routing')
@ApiCommonErrors()
@Controller()
export class RoutingController {
  constructor(
    private readonly routing: RoutingService,
    private readonly incidents: IncidentsService,
    private readonly silences: SilencesService,
  ) {}

  @RequireScope('incidents:read')
  @Get('v1/routing')
  @ApiOperation({ summary: 'The routing in force: receivers (targets without secrets), escalation policies and the routes' })
  show(): object {
    const routing = this.routing.routing;
    return {
      ...this.routing.describeLoad(),
      receivers: [...routing.receivers.values()].map(receiverView),
      escalation_policies: [...routing.policies.values()].map((p) => ({
        name: p.name,
        repeat: p.repeat,
        steps: p.steps.map((s) => ({ after: formatDuration(s.after_ms), receiver: s.receiver })),
      })),
      routes: allRoutes(routing.root).map((r) => ({
        route: r.id,
        path: r.path,
        matchers: r.matcher_text,
        receiver: r.receiver,
        escalation: r.escalation,
        repeat_interval: r.repeat_interval_ms ? formatDuration(r.repeat_interval_ms) : null,
        continue: r.continue,
      })),
    };
  }

  @RequireScope('incidents:read')
  @Post('v1/routing/explain')
  @HttpCode(200)
  @ApiJsonBodyErrors()
  @ApiOperation({
    summary: 'Which routes and receivers an incident (or a set of fields and labels) reaches, and why',
    description:
      'Every route looked at, each matcher with the values it saw, the routes reached with their receivers, escalation and repeat interval, and the active silences that match.',
  })
  async explain(@Body() dto: ExplainRoutingDto): Promise<Explanation & { silenced_by: Silence[] }> {
    let subject;
    if (dto.incident_id !== undefined) {
      const extra = Object.keys(dto).filter((k) => k !== 'incident_id');
      if (extra.length > 0) throw new ValidationFailed(extra.map((field) => ({ field, message: 'give either incident_id or the fields, not both' })));
      subject = subjectOf(await this.incidents.get(dto.incident_id));
    } else {
      subject = {
        severity: dto.severity ?? '',
        source: dto.source ?? '',
        incident_type: dto.incident_type ?? '',
        affected_resources: dto.affected_resources ?? [],
        labels: dto.labels ?? {},
      };
    }
    return { ...explainRouting(this.routing.routing, subject), silenced_by: await this.silences.matching(subject) };
  }

  @RequireScope('admin')
  @Post('v1/admin/config/reload')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Read the configuration again and apply its routing (receivers, escalation policies, routes), as SIGHUP does',
    description:
      'A configuration that does not validate is refused with its problems and the running one stays. Other keys that changed are listed in restart_required and not applied.',
  })
  @ApiOkResponse({ description: 'The routing now in force' })
  @ApiUnprocessableEntityResponse({ type: ErrorView, description: 'CONFIG_INVALID: details.problems names each bad key' })
  reload(): ReloadOutcome {
    return this.routing.reload('api');
  }
}
