import type { Metadata } from '@grpc/grpc-js';
import { callerOf, Principal } from '../auth/request-principal';
import { RequireScope } from '../auth/access.decorators';
import { GrpcEndpoint } from '../grpc/grpc-endpoint';
import { Controller } from '@nestjs/common';
import { GrpcMethod, GrpcStreamMethod } from '@nestjs/microservices';
import { EMPTY, from, map, mergeMap, Observable, takeUntil, tap } from 'rxjs';
import { DomainError, ErrorCode, ValidationFailed } from '../common/domain-error';
import { ShutdownSignal } from '../common/shutdown-signal';
import { toValidDto } from '../common/validation';
import { grpcErrorOf } from '../grpc/grpc-exception.filter';
import type { ProtoMessage } from '../grpc/proto-mapping';
import { alertAckToProto, alertFromProto } from './alert.proto-mapping';
import { AlertsService } from './alerts.service';
import { refusedShapeOf } from '../grpc/wire-shape';
import { MetricsService } from '../metrics/metrics.service';
import { AlertDto, toValidAlertBatch } from './dto/alert.dto';

type Request = ProtoMessage;
type Outcome = { ack: object } | { fault: unknown };

/** Alerts of one StreamAlerts call being ingested at once; more wait (unparsed) in the stream. */
const MAX_IN_FLIGHT = 256;

/** The AlertIngestion service of the proto: the same validation and ingestion as POST /v1/alerts. */
@Controller()
@GrpcEndpoint()
export class AlertsGrpcController {
  constructor(
    private readonly alerts: AlertsService,
    private readonly shutdown: ShutdownSignal,
    private readonly metrics: MetricsService,
  ) {}

  @RequireScope('alerts:write')
  @GrpcMethod('AlertIngestion', 'SubmitAlert')
  async submitAlert(request: Request, metadata: Metadata): Promise<object> {
    const dto = this.validated(() => toValidDto(AlertDto, alertFromProto(request.alert), 'alert'), [request.alert]);
    const [answer] = await this.alerts.ingest([dto], callerOf(metadata));
    return alertAckToProto(answer);
  }

  @RequireScope('alerts:write')
  @GrpcMethod('AlertIngestion', 'SubmitAlerts')
  async submitAlerts(request: Request, metadata: Metadata): Promise<object> {
    const items: unknown[] = Array.isArray(request.alerts) ? request.alerts.map((alert) => alertFromProto(alert)) : [];
    const answers = await this.alerts.ingest(
      await this.validated(() => toValidAlertBatch(items, 'alerts', (index) => `alerts[${index}]`), items),
      callerOf(metadata),
    );
    return { acks: answers.map((answer, index) => alertAckToProto(answer, index)) };
  }

  /**
   * Alerts are ingested as they arrive, up to MAX_IN_FLIGHT at once (concurrent ones share a
   * commit); acks go out in the order of the alerts. A bad alert, or one refused because the
   * store is overloaded, is acked REJECTED and the stream goes on. Any other failure, or the
   * server shutting down, ends the stream with its status once the acks of the alerts already
   * being ingested have gone out (so a client knows which of them were stored).
   */
  @RequireScope('alerts:write', { stream: true })
  @GrpcStreamMethod('AlertIngestion', 'StreamAlerts')
  streamAlerts(requests: Observable<Request>, metadata: Metadata): Observable<object> {
    const principal = callerOf(metadata);
    return new Observable<object>((subscriber) => {
      const done = new Map<number, Outcome>();
      let nextAck = 0;
      let started = 0;
      let inputEnded = false;
      let closed = false;
      let fault: unknown;
      const finishIfDrained = () => {
        if (nextAck < started) return;
        if (fault !== undefined) subscriber.error(fault);
        else if (inputEnded) subscriber.complete();
      };
      const stop = (err: unknown) => {
        fault ??= err;
        closed = true; // take no more alerts; those being ingested still get their acks
        finishIfDrained();
      };
      const input = requests
        .pipe(
          takeUntil(
            this.shutdown.closing$.pipe(
              tap(() => stop(new DomainError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down; send the rest elsewhere or later'))),
            ),
          ),
          mergeMap((request: Request) => {
            if (closed) return EMPTY;
            const index = started++;
            return from(this.ingestOne(request, index, principal)).pipe(map((outcome) => [index, outcome] as const));
          }, MAX_IN_FLIGHT),
        )
        .subscribe({
          next: ([index, outcome]) => {
            done.set(index, outcome);
            while (done.has(nextAck)) {
              const ready = done.get(nextAck)!;
              done.delete(nextAck);
              nextAck += 1;
              if ('ack' in ready) subscriber.next(ready.ack);
              else fault ??= ready.fault;
            }
            if (fault !== undefined) stop(fault);
            else finishIfDrained();
          },
          error: (err) => stop(err),
          complete: () => {
            inputEnded = true;
            finishIfDrained();
          },
        });
      return () => input.unsubscribe();
    });
  }

  /** Never rejects: started at once, its result is awaited in order (an early rejection would go unhandled). */
  private async ingestOne(request: Request, index: number, principal: Principal | undefined): Promise<Outcome> {
    try {
      const refused = refusedShapeOf(request);
      if (refused) throw new ValidationFailed([refused]);
      const dto = this.validated(() => toValidDto(AlertDto, alertFromProto(request.alert), 'alert'), [request.alert]);
      const [answer] = await this.alerts.ingest([dto], principal);
      return { ack: alertAckToProto(answer, index) };
    } catch (err) {
      if (err instanceof ValidationFailed || (err instanceof DomainError && (err.code === 'OVERLOADED' || err.code === 'RATE_LIMITED'))) {
        return { ack: { status: 'REJECTED', index, error: grpcErrorOf(err).message, message: 'nothing stored' } };
      }
      return { fault: err };
    }
  }

  /** Validation refusals are counted here: the service only ever sees valid alerts. */
  private validated<T>(validate: () => T, raw: readonly unknown[]): T {
    return this.metrics.rejectedIfThrows('api', raw, validate);
  }
}
