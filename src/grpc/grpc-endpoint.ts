import { applyDecorators, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { AccessGuard, AccessInterceptor } from '../auth/access.guard';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { WireShapeInterceptor } from './wire-shape';

/**
 * What every gRPC controller of the incident manager needs. The microservice does not inherit
 * the HTTP app's global guard, interceptor and filter (their HTTP pipe and filter would be
 * wrong here), so access is applied per controller; each method then states its scope.
 */
export const GrpcEndpoint = (): ClassDecorator =>
  applyDecorators(UseFilters(GrpcExceptionFilter), UseGuards(AccessGuard), UseInterceptors(WireShapeInterceptor, AccessInterceptor));
