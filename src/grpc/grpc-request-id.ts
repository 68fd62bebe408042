import { Metadata, ServerInterceptingCall, ServerInterceptor, status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { REQUEST_ID_HEADER, requestIdOf } from '../common/request-id';

/**
 * gRPC's request ids, as REST's (see common/request-logging): the caller's x-request-id entry
 * when it is acceptable, otherwise a new id, put back into the call's metadata so that the
 * guard and the handlers read the one the call is known by; the client gets it in the initial
 * metadata, and in the trailing metadata too (an error answered before any message has no
 * initial metadata of its own). With an access log, one line per call when its status is sent.
 */
export function requestIdInterceptor(accessLog: Logger | undefined): ServerInterceptor {
  return (method, call) => {
    const started = process.hrtime.bigint();
    let requestId: string | undefined;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            requestId = requestIdOf(metadata.get(REQUEST_ID_HEADER)[0]);
            metadata.set(REQUEST_ID_HEADER, requestId);
            nextMetadata(metadata);
          },
        }),
      sendMetadata: (metadata, next) => {
        if (requestId !== undefined) metadata.set(REQUEST_ID_HEADER, requestId);
        next(metadata);
      },
      sendStatus: (status, next) => {
        const trailing = status.metadata ?? new Metadata();
        if (requestId !== undefined) trailing.set(REQUEST_ID_HEADER, requestId);
        accessLog?.info({
          msg: 'call completed',
          transport: 'grpc',
          method: method.path,
          status: GrpcStatus[status.code],
          duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
          request_id: requestId,
          remote: call.getPeer(),
        });
        next({ ...status, metadata: trailing });
      },
    });
  };
}
