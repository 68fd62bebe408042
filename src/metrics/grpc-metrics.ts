import { ResponderBuilder, ServerInterceptingCall, ServerInterceptor, ServerListenerBuilder, status as GrpcStatus } from '@grpc/grpc-js';
import { MetricsService } from './metrics.service';

/**
 * A grpc-js server interceptor that counts and times every call by its final status: the
 * handlers' answers, the errors GrpcExceptionFilter maps, the access guard's refusals, and calls
 * the client cancelled (CANCELLED, as the client sees them). It sits below @nestjs/microservices,
 * on the grpc-js Server itself, so nothing Nest does is left out. The method label is the
 * descriptor's path (/package.Service/Method): one of the proto's, a bounded set.
 */
export function grpcMetricsInterceptor(metrics: MetricsService): ServerInterceptor {
  return (method, call) => {
    const started = process.hrtime.bigint();
    let ended = false;
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      metrics.grpcCall(method.path, GrpcStatus[code] ?? String(code), Number(process.hrtime.bigint() - started) / 1e9);
    };
    return new ServerInterceptingCall(
      call,
      new ResponderBuilder()
        .withStart((next) => next(new ServerListenerBuilder().withOnCancel(() => end(GrpcStatus.CANCELLED)).build()))
        .withSendStatus((status, next) => {
          end(status.code);
          next(status);
        })
        .build(),
    );
  };
}
