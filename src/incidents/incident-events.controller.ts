import { Controller, Get, Logger, OnModuleDestroy, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScope } from '../auth/access.decorators';
import { ApiKeysService } from '../auth/api-keys.service';
import { Caller, Principal } from '../auth/request-principal';
import { ConsoleSessionsService, SessionPrincipal } from '../auth/sessions/console-sessions.service';
import { ApiCommonErrors } from '../common/error.view';
import { DomainError, ErrorCode } from '../common/domain-error';
import { errorBodyOf } from '../common/http-exception.filter';
import { acceptsGzip } from '../common/shared-gzip';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { IncidentEvent, IncidentStateEvent, IncidentUpdatedEvent } from './domain/events';
import { StreamIncidentsQuery } from './dto/incident.dto';
import { EventStreamResponse, SSE_HEARTBEAT, SSE_OPENING, SseText } from './event-stream-response';
import { IncidentEventStream } from './incident-event-stream';

/** A comment line this often keeps proxies and load balancers from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** Events are written at most this long after they happen, in one write per stream. */
const FLUSH_MS = 50;

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
  /** What ends each open stream. */
  private readonly open = new Set<() => void>();
  /** Streams with events waiting for the next write. */
  private readonly dirty = new Set<OpenStream>();
  /** The events of the next write in the order they came, each serialised once, when first written. */
  private readonly batch = new Map<IncidentEvent, { index: number; frame: string | undefined }>();
  private flushTimer: NodeJS.Timeout | undefined;

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
      'Events are written within 50 ms of happening; a client that sends `Accept-Encoding: gzip` (every browser does) gets the stream gzipped. ' +
      'A client that leaves 10,000 events unread is cut off. The last event before the server ends a stream is `event: closing` with the error envelope.',
  })
  @ApiOkResponse({ description: 'text/event-stream' })
  events(@Query() query: StreamIncidentsQuery, @Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller?: Principal): void {
    const raw = reply.raw;
    reply.hijack();
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    // HEAD: the headers and nothing more. Node sends a HEAD answer's headers only at its end, so
    // a stream left open would hold the connection (and a stream slot) without a word.
    if (request.method === 'HEAD') {
      raw.end();
      return;
    }
    const response = new EventStreamResponse(raw, gzip);
    response.write(SSE_OPENING);
    const state: OpenStream = { response, filterKey: filterKeyOf(query), pending: [] };
    const close = (err?: unknown) => {
      if (response.ended) return;
      this.flushOne(state, new Map());
      response.end(err === undefined ? undefined : new SseText(`event: closing\ndata: ${JSON.stringify(errorBodyOf(err, request.id))}\n\n`));
    };
    this.open.add(close);

    const subscription = this.stream
      .eventsFor({ states: query.state, severities: query.severity }, () => response.backlogged)
      .subscribe({
        next: (event) => this.enqueue(state, event),
        error: (err: unknown) => {
          if (err instanceof DomainError && err.code === ErrorCode.SLOW_CONSUMER)
            this.logger.warn({ msg: 'event stream cut off: the client stopped reading', key_id: caller?.keyId });
          close(err);
        },
      });
    const heartbeat = setInterval(() => response.write(SSE_HEARTBEAT), HEARTBEAT_MS);
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
      this.open.delete(close);
      this.dirty.delete(state);
    });
  }

  /** Streams still open at shutdown (the event stream's own end reaches them first) are ended. */
  onModuleDestroy(): void {
    for (const close of this.open) close();
    clearTimeout(this.flushTimer);
  }

  /**
   * Events come in bursts (one commit answers many alerts), and every open stream is sent the
   * same events, so what a stream costs is the bytes written to it (bench/console-stream.js).
   * The events of FLUSH_MS go out in one write per stream, and streams with the same filter that
   * got the same events in that time are written the same bytes, serialised and compressed once.
   */
  private enqueue(state: OpenStream, event: IncidentEvent): void {
    if (!this.batch.has(event)) this.batch.set(event, { index: this.batch.size, frame: undefined });
    state.pending.push(event);
    this.dirty.add(state);
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flushAll(), FLUSH_MS);
  }

  private flushAll(): void {
    this.flushTimer = undefined;
    const written = new Map<string, SseText>();
    for (const state of this.dirty) this.flushOne(state, written);
    this.dirty.clear();
    this.batch.clear();
  }

  /** `written` holds this batch's texts by filter, first event and count: the same three mean the same events. */
  private flushOne(state: OpenStream, written: Map<string, SseText>): void {
    const { pending, response } = state;
    if (pending.length === 0) return;
    state.pending = [];
    if (response.ended) return;
    const textKey = `${state.filterKey}|${this.batch.get(pending[0])?.index}|${pending.length}`;
    let text = written.get(textKey);
    if (!text) {
      text = new SseText(pending.map((event) => this.frameOf(event)).join(''));
      written.set(textKey, text);
    }
    response.write(text);
  }

  private frameOf(event: IncidentEvent): string {
    const seen = this.batch.get(event);
    if (seen?.frame !== undefined) return seen.frame;
    const frame = `data: ${JSON.stringify(eventToJson(event))}\n\n`;
    if (seen) seen.frame = frame;
    return frame;
  }
}

/** Streams with equal filters are sent equal events; the order of the values does not matter. */
function filterKeyOf(query: StreamIncidentsQuery): string {
  return `${[...(query.state ?? [])].sort().join(',')};${[...(query.severity ?? [])].sort().join(',')}`;
}

interface OpenStream {
  response: EventStreamResponse;
  filterKey: string;
  /** Events not yet written. */
  pending: IncidentEvent[];
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
