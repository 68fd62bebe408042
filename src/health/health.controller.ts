import { Public } from '../auth/access.decorators';
import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DatabaseHealth } from '../database/database.health';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly database: DatabaseHealth) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers a query' })
  @ApiOkResponse({ schema: { example: { status: 'ok', checks: { database: { status: 'ok', driver: 'sqlite' } } } } })
  @ApiServiceUnavailableResponse({ schema: { example: { status: 'unavailable', checks: { database: { status: 'down', driver: 'postgres', error: '...' } } } } })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const result = await this.database.check();
    const database = result.ok ? { status: 'ok', driver: this.database.dialect } : { status: 'down', driver: this.database.dialect, error: result.error };
    if (!result.ok) reply.status(HttpStatus.SERVICE_UNAVAILABLE);
    return { status: result.ok ? 'ok' : 'unavailable', checks: { database } };
  }
}
