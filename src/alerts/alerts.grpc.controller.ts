import { Controller, UseFilters } from '@nestjs/common';
import { GrpcMethod, GrpcStreamMethod } from '@nestjs/microservices';
import { concatMap, from, map, Observable } from 'rxjs';
import { DomainError, ValidationFailed } from '../common/domain-error';
import { toValidDto } from '../common/validation';
import { GrpcExceptionFilter, grpcErrorOf } from '../grpc/grpc-exception.filter';
import { alertAckToProto, alertFromProto } from '../grpc/proto-mapping';
import { AlertsService } from './alerts.service';
import { AlertDto, toValidAlertBatch } from './dto/alert.dto';

type Request = Record<string, any>;

/** The AlertIngestion service of the proto: the same validation and ingestion as POST /v1/alerts. */
@Controller()
@UseFilters(GrpcExceptionFilter)
export class AlertsGrpcController {
  constructor(private readonly alerts: AlertsService) {}

  @GrpcMethod('AlertIngestion', 'SubmitAlert')
  async submitAlert(request: Request): Promise<object> {
    const dto = toValidDto(AlertDto, alertFromProto(request.alert), 'alert');
    const [answer] = await this.alerts.ingest([dto]);
    return alertAckToProto(answer);
  }

  @GrpcMethod('AlertIngestion', 'SubmitAlerts')
  async submitAlerts(request: Request): Promise<object> {
    const items: unknown[] = (request.alerts ?? []).map((alert: Request) => alertFromProto(alert));
    const answers = await this.alerts.ingest(toValidAlertBatch(items, 'alerts', (index) => `alerts[${index}]`));
    return { acks: answers.map((answer, index) => alertAckToProto(answer, index)) };
  }

  /**
   * Each alert is ingested as soon as it arrives (concurrent ones share a commit); acks go out
   * in the order of the alerts. A bad alert, or one refused because the store is overloaded, is
   * acked REJECTED and the stream goes on; any other failure ends the stream with its status.
   */
  @GrpcStreamMethod('AlertIngestion', 'StreamAlerts')
  streamAlerts(requests: Observable<Request>): Observable<object> {
    return requests.pipe(
      map((request, index) => this.ingestOne(request, index)),
      concatMap((pending) => from(pending)),
      map((outcome) => {
        if ('fault' in outcome) throw outcome.fault;
        return outcome.ack;
      }),
    );
  }

  /** Never rejects: started at once, its result is awaited in order (an early rejection would go unhandled). */
  private async ingestOne(request: Request, index: number): Promise<{ ack: object } | { fault: unknown }> {
    try {
      const dto = toValidDto(AlertDto, alertFromProto(request.alert), 'alert');
      const [answer] = await this.alerts.ingest([dto]);
      return { ack: alertAckToProto(answer, index) };
    } catch (err) {
      if (err instanceof ValidationFailed || (err instanceof DomainError && err.code === 'OVERLOADED')) {
        return { ack: { status: 'REJECTED', index, error: grpcErrorOf(err).message, message: 'nothing stored' } };
      }
      return { fault: err };
    }
  }
}
