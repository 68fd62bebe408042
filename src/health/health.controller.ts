import { Public } from '../auth/access.decorators';
import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { StoreHealth } from '../database/store-health';
import { NotificationsService } from '../notifications/notifications.service';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly store: StoreHealth,
    private readonly notifications: NotificationsService,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: the store answers a read and takes a (rolled-back) write',
    description:
      '503 while the store is unreachable (`database.status: unavailable`) or has no room to write (`full`). `deliveries` reports deliveries left `sending` past their lease (informational: it does not fail readiness).',
  })
  @ApiOkResponse({
    schema: {
      example: {
        status: 'ok',
        checks: { database: { status: 'ok', driver: 'sqlite' }, deliveries: { status: 'ok', stranded: 0, oldest_expired_lease_secs: 0 } },
      },
    },
  })
  @ApiServiceUnavailableResponse({
    schema: {
      example: {
        status: 'unavailable',
        checks: { database: { status: 'full', driver: 'sqlite', error: 'SQLITE_FULL: database or disk is full', since: '…' } },
      },
    },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const result = await this.store.check();
    const database = result.ok
      ? { status: 'ok', driver: this.store.dialect }
      : { status: result.status, driver: this.store.dialect, error: result.error, since: result.since };
    if (!result.ok) {
      reply.status(HttpStatus.SERVICE_UNAVAILABLE);
      return { status: 'unavailable', checks: { database } };
    }
    const stranded = await this.notifications.strandedDeliveries().catch(() => null);
    const deliveries = stranded
      ? { status: stranded.count > 0 ? 'stranded' : 'ok', stranded: stranded.count, oldest_expired_lease_secs: stranded.oldest_expired_lease_secs }
      : { status: 'unknown' };
    return { status: 'ok', checks: { database, deliveries } };
  }
}
