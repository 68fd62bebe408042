import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asDomainError } from '../database/store-faults';
import { DomainError, ErrorCode } from './domain-error';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id';

export interface ErrorBody {
  /** request_id: the answer's x-request-id, the id its log lines carry. */
  error: { code: string; message: string; status: number; details: Record<string, unknown>; request_id: string };
}

const STATUS_OF: Record<ErrorCode, number> = {
  [ErrorCode.VALIDATION_FAILED]: 400,
  [ErrorCode.MALFORMED_JSON]: 400,
  [ErrorCode.INCIDENT_NOT_FOUND]: 404,
  [ErrorCode.INVALID_TRANSITION]: 409,
  [ErrorCode.ALREADY_RESOLVED]: 409,
  [ErrorCode.DUPLICATE_INCIDENT]: 409,
  [ErrorCode.OVERLOADED]: 503,
  [ErrorCode.NOTIFICATION_NOT_FOUND]: 404,
  [ErrorCode.NOT_RETRYABLE]: 409,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.SLOW_CONSUMER]: 503,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.CSRF_REJECTED]: 403,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.API_KEY_NOT_FOUND]: 404,
  [ErrorCode.ALREADY_ACKNOWLEDGED]: 409,
  [ErrorCode.SILENCE_NOT_FOUND]: 404,
  [ErrorCode.USER_NOT_FOUND]: 404,
  [ErrorCode.TEAM_NOT_FOUND]: 404,
  [ErrorCode.SCHEDULE_NOT_FOUND]: 404,
  [ErrorCode.OVERRIDE_NOT_FOUND]: 404,
  [ErrorCode.NAME_TAKEN]: 409,
  [ErrorCode.CONFIG_INVALID]: 422,
  [ErrorCode.NOT_CONFIGURED]: 404,
  [ErrorCode.LINK_NOT_VALID]: 404,
  [ErrorCode.LINK_GONE]: 410,
  [ErrorCode.STORE_UNAVAILABLE]: 503,
  [ErrorCode.STORE_FULL]: 503,
};

/** Fastify's own request errors (raised before a handler runs) and the codes we answer with. */
const FASTIFY_CODES: Record<string, { code: string; field?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_CONTENT_LENGTH', field: 'content-length' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', field: 'body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'MALFORMED_JSON', field: 'body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'MALFORMED_JSON', field: 'body' },
  FST_ERR_BAD_URL: { code: 'INVALID_URL', field: 'path' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'URI_TOO_LONG', field: 'path' },
};

const FIELD_OF_STATUS: Record<number, string> = { 413: 'body', 415: 'content-type' };

const GENERIC_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

export function errorBodyOf(raised: unknown, requestId: string): ErrorBody {
  // A store fault (PostgreSQL gone, a full disk) is the service's state, not a bug: 503.
  const exception = asDomainError(raised) ?? raised;
  if (exception instanceof DomainError) {
    const status = STATUS_OF[exception.code];
    return { error: { code: exception.code, message: exception.message, status, details: exception.details, request_id: requestId } };
  }
  if (exception instanceof HttpException) {
    // Nest wraps Fastify's own request errors (size, media type) into HttpExceptions.
    const status = exception.getStatus();
    const code = GENERIC_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST');
    const field = FIELD_OF_STATUS[status];
    const details = field ? { fields: [{ field, message: exception.message }] } : {};
    return { error: { code, message: exception.message, status, details, request_id: requestId } };
  }
  const err = exception as { statusCode?: unknown; code?: unknown; message?: unknown } | null;
  if (err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const known = typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined;
    // A JSON SyntaxError from the body parser also arrives here with status 400.
    const isJsonSyntax = exception instanceof SyntaxError;
    const code = known?.code ?? (isJsonSyntax ? 'MALFORMED_JSON' : (GENERIC_CODES[err.statusCode] ?? 'BAD_REQUEST'));
    const field = known?.field ?? (isJsonSyntax ? 'body' : undefined);
    const message = typeof err.message === 'string' ? err.message : 'bad request';
    return {
      error: { code, message, status: err.statusCode, details: field ? { fields: [{ field, message }] } : {}, request_id: requestId },
    };
  }
  return { error: { code: 'INTERNAL', message: 'internal server error', status: 500, details: {}, request_id: requestId } };
}

/** Router errors Fastify answers itself (a bad %-escape, an over-long path parameter), in the envelope. */
export function answerFrameworkError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const body = errorBodyOf(error, request.id);
  // The router refused the request before any onRequest hook, the one that sets x-request-id too.
  void reply.status(body.error.status).header(REQUEST_ID_HEADER, request.id).header('content-type', 'application/json; charset=utf-8').send(body);
}

const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'HEADERS_TOO_LARGE', message: 'request headers are too large' },
};

/**
 * Requests Node's HTTP parser refuses before any route sees them (broken HTTP, oversized
 * headers, timeouts), answered in the envelope on the raw socket.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  // Nothing can be answered; the connection is of no further use (Node's own handler destroys it too).
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const known = (error.code && CLIENT_ERRORS[error.code]) || { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request' };
  // Not the caller's id even if it sent one: the parser refused the request, its headers included.
  const requestId = requestIdOf(undefined);
  const body = JSON.stringify({ error: { code: known.code, message: known.message, status: known.status, details: {}, request_id: requestId } });
  // An answer to HEAD has no body (RFC 9110 §9.3.2): a client reads the next bytes as the next
  // answer, and Node's fails with "Data after `Connection: close`". The parser has refused the
  // request, so its method is read from the bytes it received.
  const isHead = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  const answer =
    `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${REQUEST_ID_HEADER}: ${requestId}\r\nConnection: close\r\n\r\n${isHead ? '' : body}`;
  // end() only half-closes: a client that keeps its side open would hold the connection for
  // ever. After a timeout the parser is still reading, and bytes trickled in after the answer
  // could complete a request that would then run: the connection goes as soon as the answer is
  // out, as with Node's own handler. After a parse error nothing more is read, so the client gets
  // a moment to read the answer before the close (a reset could discard it unread).
  if (known.status === 408) socket.end(answer, () => socket.destroy());
  else {
    socket.end(answer);
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  }
}

const CLIENT_ERROR_LINGER_MS = 2000;

/** Every HTTP error leaves in one envelope: {"error": {code, message, status, details, request_id}}. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const requestId = http.getRequest<FastifyRequest>().id;
    const body = errorBodyOf(exception, requestId);
    // Only faults of the service itself: a store outage is logged once per episode by StoreHealth.
    if (body.error.code === 'INTERNAL') {
      this.logger.error({ msg: 'unhandled error', request_id: requestId, err: exception instanceof Error ? exception.stack : String(exception) });
    }
    sendError(http.getResponse<FastifyReply>(), body.error, body);
  }
}

/**
 * Answers an error with `payload` (the envelope, or another shape a route's clients read): its
 * status, Retry-After when the error has one, and on a 401 the scheme to use (RFC 9110 §11.6.1).
 */
export function sendError(reply: FastifyReply, error: ErrorBody['error'], payload: unknown): void {
  const retryAfter = error.details.retry_after_secs;
  if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  if (error.status === 401) void reply.header('www-authenticate', 'Bearer');
  void reply.status(error.status).header('content-type', 'application/json; charset=utf-8').send(payload);
}
