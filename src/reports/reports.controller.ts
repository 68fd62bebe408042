import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/access.decorators';
import { ApiCommonErrors } from '../common/error.view';
import { MAX_REPORT_DAYS, NO_TEAM, ResponseReportQuery, ResponseReportView } from './reports.dto';
import { ReportsService } from './reports.service';

@ApiTags('reports')
@ApiCommonErrors()
@Controller('v1/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @RequireScope('incidents:read', { expensive: true })
  @Get('response')
  @ApiOperation({
    summary: 'Response times and on-call load over a range: time to acknowledge and to resolve, by severity and by team; notifications per person',
    description:
      `Incidents created in [from, to) (at most ${MAX_REPORT_DAYS} days), with their acknowledgement and resolution as of now, read from their timeline: ` +
      'the first acknowledgement (or move out of Detected to a later active state) and the first resolution (a reopened incident keeps its first). ' +
      'Incidents not acknowledged or not resolved yet are counted as such and left out of the means and percentiles. ' +
      `An incident's team is its \`team\` label, \`${NO_TEAM}\` when it has none; \`team\` keeps only that team's incidents and their notifications. ` +
      'Notifications are counted by their own time in [from, to), whichever incident they were about: each time a person was notified (suppressed ones are not), ' +
      'by contact method, and the times a target reached nobody.',
  })
  @ApiOkResponse({ type: ResponseReportView })
  response(@Query() query: ResponseReportQuery): Promise<ResponseReportView> {
    return this.reports.response(query);
  }
}
