import { ApiCommonErrors } from '../common/error.view';
import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/access.decorators';
import { MetricsService } from './metrics.service';

/** GET /metrics on the main server (metrics.port = 0). */
@ApiTags('metrics')
@ApiCommonErrors()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @RequireScope('metrics:read')
  @Get('metrics')
  // Scrapes read the store; an answer kept by a proxy would show stale figures.
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics, in the text exposition format (see docs/observability.md)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'The exposition text',
    schema: { type: 'string', example: 'llm_im_alerts_received_total{source="prometheus",result="accepted",integration="api"} 3' },
  })
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const text = await this.metrics.render();
    void reply.header('content-type', this.metrics.contentType);
    return text;
  }
}
