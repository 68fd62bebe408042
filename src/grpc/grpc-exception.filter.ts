import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';
import { ArgumentsHost, Catch, Logger, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';
import { DomainError, ErrorCode, ValidationFailed } from '../common/domain-error';
import { asDomainError } from '../database/store-faults';
import { requestIdOfCall } from '../common/request-id';
import { inProtoWords } from './proto-mapping';

/** Domain error codes as gRPC status codes: the one place they are mapped for gRPC. */
const STATUS_OF: Record<ErrorCode, GrpcStatus> = {
  [ErrorCode.VALIDATION_FAILED]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.MALFORMED_JSON]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.INCIDENT_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.NOTIFICATION_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.INVALID_TRANSITION]: GrpcStatus.FAILED_PRECONDITION,
  [ErrorCode.ALREADY_RESOLVED]: GrpcStatus.FAILED_PRECONDITION,
  [ErrorCode.NOT_RETRYABLE]: GrpcStatus.FAILED_PRECONDITION,
  [ErrorCode.DUPLICATE_INCIDENT]: GrpcStatus.ALREADY_EXISTS,
  [ErrorCode.OVERLOADED]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.SHUTTING_DOWN]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.SLOW_CONSUMER]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.UNAUTHENTICATED]: GrpcStatus.UNAUTHENTICATED,
  [ErrorCode.FORBIDDEN]: GrpcStatus.PERMISSION_DENIED,
  [ErrorCode.CSRF_REJECTED]: GrpcStatus.PERMISSION_DENIED,
  [ErrorCode.RATE_LIMITED]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.API_KEY_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.ALREADY_ACKNOWLEDGED]: GrpcStatus.FAILED_PRECONDITION,
  [ErrorCode.SILENCE_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.USER_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.TEAM_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.SCHEDULE_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.OVERRIDE_NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ErrorCode.NAME_TAKEN]: GrpcStatus.ALREADY_EXISTS,
  [ErrorCode.CONFIG_INVALID]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.NOT_CONFIGURED]: GrpcStatus.UNIMPLEMENTED,
  [ErrorCode.LINK_NOT_VALID]: GrpcStatus.NOT_FOUND,
  [ErrorCode.LINK_GONE]: GrpcStatus.FAILED_PRECONDITION,
  // Both are worth a retry: clients (and grpc-js retry policies) retry UNAVAILABLE.
  [ErrorCode.STORE_UNAVAILABLE]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.STORE_FULL]: GrpcStatus.UNAVAILABLE,
};

export interface GrpcError {
  code: GrpcStatus;
  message: string;
  details: string;
  metadata: Metadata;
}

/**
 * A thrown error as a gRPC status. The message names each bad field ("severity: must be one of
 * ..."); trailing metadata carries the domain code (`error-code`) and, for validation errors,
 * the field paths (`error-fields`). Anything that is not a domain error is a fault of the
 * service: INTERNAL, with the details logged and not sent.
 */
export function grpcErrorOf(raised: unknown): GrpcError {
  const metadata = new Metadata();
  const err = asDomainError(raised) ?? raised;
  if (err instanceof DomainError) {
    metadata.set('error-code', err.code);
    let message = err.message;
    if (err instanceof ValidationFailed) {
      metadata.set('error-fields', err.issues.map((i) => i.field).join(','));
      message = `${err.message.split(':')[0]}: ${err.issues.map((i) => `${i.field}: ${inProtoWords(i.message)}`).join('; ')}`;
    } else if (Object.keys(err.details).length > 0) {
      // The ids and states REST gives in details (existing_incident_id, from, to, ...).
      message = `${err.message} ${JSON.stringify(err.details)}`;
      metadata.set('error-details', JSON.stringify(err.details));
    }
    return { code: STATUS_OF[err.code], message, details: message, metadata };
  }
  metadata.set('error-code', 'INTERNAL');
  return { code: GrpcStatus.INTERNAL, message: 'internal error', details: 'internal error', metadata };
}

@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger('Grpc');

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    const error = grpcErrorOf(exception);
    if (error.code === GrpcStatus.INTERNAL) {
      this.logger.error({
        msg: 'gRPC call failed',
        request_id: requestIdOfCall(host.switchToRpc().getContext<Metadata>()),
        error: exception instanceof Error ? exception.message : String(exception),
      });
    }
    return throwError(() => error);
  }
}
