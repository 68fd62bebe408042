import { Controller, Get, Logger, OnModuleDestroy, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { RequireScope } from '../auth/access.decorators';
import { ApiKeysService } from '../auth/api-keys.service';
import { Caller, Principal } from '../auth/request-principal';
import { ConsoleSessionsService, SessionPrincipal } from '../auth/sessions/console-sessions.service';
import { ApiCommonErrors } from '../common/error.view';
import { DomainError, ErrorCode } from '../common/domain-error';
import { errorBodyOf } from '../common/http-exception.filter';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { IncidentEvent, IncidentStateEvent, IncidentUpdatedEvent } from './domain/events';
import { StreamIncidentsQuery } from './dto/incident.dto';
import { IncidentEventStream } from './incident-event-stream';

/** A comment line this often keeps proxies and load balancers from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * GET /v1/incidents/events: the REST twin of gRPC StreamIncidents, as server-sent events (what a
 * browser's EventSource reads). Same filters, same slow-consumer cut-off; the stream ends when
 * its key (or console session) stops being valid, and at shutdown, each time with a last
 * `closing` event that carries the error envelope.
 */
@ApiTags('incidents')
@ApiCommonErrors()
@Controller('v1/incidents')
export class IncidentEventsController implements OnModuleDestroy {
  private readonly logger = new Logger('IncidentEvents');
  private readonly open = new Set<ServerResponse>();
  /** The frame of the last event written: every subscriber is sent the same event in turn, so it is serialised once. */
  private last: { event: IncidentEvent; frame: string } | undefined;

  constructor(
    private readonly stream: IncidentEventStream,
    private readonly keys: ApiKeysService,
    private readonly sessions: ConsoleSessionsService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  @RequireScope('incidents:read', { stream: true })
  @Get('events')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary: 'Live incident events as server-sent events (the REST twin of gRPC StreamIncidents)',
    description:
      'Each `data:` line is one JSON event: {event_type, occurred_at, actor, incident, previous_state?, changes?}. ' +
      'A client that leaves 10,000 events unread is cut off. The last event before the server ends a stream is `event: closing` with the error envelope.',
  })
  @ApiOkResponse({ description: 'text/event-stream' })
  events(@Query() query: StreamIncidentsQuery, @Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller?: Principal): void {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 2000\n: open\n\n');
    this.open.add(raw);

    // Events come in bursts (one commit answers many alerts): the frames of one turn of the event
    // loop go out in one write, not one write (a syscall) per event per stream. With 50 streams
    // open, ingestion lost 36 % with a write per event and 13 % this way (bench/console-stream.js);
    // flushing every 100 ms instead measured the same.
    let pending: string[] = [];
    const flush = () => {
      if (pending.length === 0 || raw.writableEnded || raw.destroyed) return;
      raw.write(pending.length === 1 ? pending[0] : pending.join(''));
      pending = [];
    };
    const close = (err?: unknown) => {
      if (raw.writableEnded || raw.destroyed) return;
      flush();
      if (err !== undefined) raw.write(`event: closing\ndata: ${JSON.stringify(errorBodyOf(err, request.id))}\n\n`);
      raw.end();
    };
    const subscription = this.stream
      .eventsFor({ states: query.state, severities: query.severity }, () => raw.writableNeedDrain)
      .subscribe({
        next: (event) => {
          if (pending.push(this.frameOf(event)) === 1) setImmediate(flush);
        },
        error: (err: unknown) => {
          if (err instanceof DomainError && err.code === ErrorCode.SLOW_CONSUMER)
            this.logger.warn({ msg: 'event stream cut off: the client stopped reading', key_id: caller?.keyId });
          close(err);
        },
      });
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    // The key (or session) was checked when the stream opened; it is checked again as often as
    // its cache allows, and the stream ends once it is revoked, expired or signed out.
    const recheck = setInterval(
      () => {
        if (!caller) return;
        const sessionId = (caller as Partial<SessionPrincipal>).sessionId;
        (sessionId ? this.sessions.isLive(sessionId) : this.keys.isUsable(caller.keyId)).then(
          (usable) =>
            usable ||
            close(
              new DomainError(
                ErrorCode.UNAUTHENTICATED,
                sessionId ? 'the console session of this stream has ended' : 'the API key of this stream was revoked or has expired',
              ),
            ),
          () => undefined, // the store is unreachable: keep the stream, try again next time
        );
      },
      Math.max(1, this.config.auth.key_cache_secs) * 1000,
    );
    heartbeat.unref();
    recheck.unref();
    raw.once('close', () => {
      clearInterval(heartbeat);
      clearInterval(recheck);
      subscription.unsubscribe();
      this.open.delete(raw);
    });
  }

  /** Streams still open at shutdown (the event stream's own end reaches them first) are ended. */
  onModuleDestroy(): void {
    for (const raw of this.open) raw.end();
  }

  private frameOf(event: IncidentEvent): string {
    if (this.last?.event === event) return this.last.frame;
    const frame = `data: ${JSON.stringify(eventToJson(event))}\n\n`;
    this.last = { event, frame };
    return frame;
  }
}

function eventToJson(event: IncidentEvent): object {
  return {
    event_type: event.name,
    occurred_at: event.occurred_at,
    actor: event.actor,
    incident: event.incident,
    ...(event instanceof IncidentStateEvent && event.previous_state ? { previous_state: event.previous_state } : {}),
    ...(event instanceof IncidentUpdatedEvent ? { changes: event.changes } : {}),
  };
}
