import { Public } from '../auth/access.decorators';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { distinctUntilChanged, from, Observable, switchMap, takeUntil, timer } from 'rxjs';
import { ShutdownSignal } from '../common/shutdown-signal';
import { StoreHealth } from '../database/store-health';

/** Services this server reports on; "" is the server as a whole. */
const SERVICES = new Set(['', 'llm_incident_manager.v1.AlertIngestion', 'llm_incident_manager.v1.IncidentService']);
const WATCH_INTERVAL_MS = 5_000;

/** grpc.health.v1.Health: SERVING while the store answers reads and takes writes, as REST's /health/ready. */
@Public()
@Controller()
export class HealthGrpcController {
  constructor(
    private readonly store: StoreHealth,
    private readonly shutdown: ShutdownSignal,
  ) {}

  @GrpcMethod('Health', 'Check')
  async check(request: { service?: string }): Promise<{ status: string }> {
    if (!SERVICES.has(request.service ?? '')) throw new RpcException({ code: GrpcStatus.NOT_FOUND, message: `unknown service ${request.service}` });
    return { status: await this.status() };
  }

  @GrpcMethod('Health', 'Watch')
  watch(request: { service?: string }): Observable<{ status: string }> {
    if (!SERVICES.has(request.service ?? '')) return from([{ status: 'SERVICE_UNKNOWN' }]);
    return timer(0, WATCH_INTERVAL_MS).pipe(
      switchMap(() => this.status()),
      distinctUntilChanged(),
      switchMap((status) => from([{ status }])),
      takeUntil(this.shutdown.closing$),
    );
  }

  private async status(): Promise<string> {
    return (await this.store.check()).ok ? 'SERVING' : 'NOT_SERVING';
  }
}
