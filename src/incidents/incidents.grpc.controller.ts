import { RequireScope } from '../auth/access.decorators';
import { actorOf, callerOf } from '../auth/request-principal';
import { GrpcEndpoint } from '../grpc/grpc-endpoint';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { ServerWritableStream, Metadata } from '@grpc/grpc-js';
import { map, Observable } from 'rxjs';
import { ValidationFailed } from '../common/domain-error';
import { toValidDto } from '../common/validation';
import { defined, ProtoMessage, protoEnum, timestampOf, toProtoEnum, wrapped } from '../grpc/proto-mapping';
import { incidentToProto, noteToProto, timelineEntryToProto } from './incident.proto-mapping';
import { IncidentEvent, IncidentStateEvent, IncidentUpdatedEvent } from './domain/events';
import {
  AcknowledgeIncidentDto,
  AddNoteDto,
  CloseIncidentDto,
  CreateIncidentDto,
  ListIncidentsQuery,
  resolutionOf,
  ResolveIncidentDto,
  TransitionIncidentDto,
  UpdateIncidentDto,
} from './dto/incident.dto';
import { IncidentEventStream } from './incident-event-stream';
import { IncidentsService } from './incidents.service';

type Request = ProtoMessage;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function idOf(request: Request): string {
  if (typeof request.id !== 'string' || !UUID.test(request.id)) throw new ValidationFailed([{ field: 'id', message: 'id must be a UUID' }]);
  return request.id.toLowerCase();
}

function resolutionFromProto(message: unknown): unknown {
  if (typeof message !== 'object' || message === null) return undefined;
  const resolution = message as Request;
  return defined({
    resolved_by: resolution.resolved_by,
    method: protoEnum.method(resolution.method),
    notes: resolution.notes ?? '',
    root_cause: resolution.root_cause,
  });
}

/** The IncidentService of the proto: a thin adapter over IncidentsService, validated like REST. */
/** The largest page of ListIncidents (REST allows 500: JSON costs less to write). */
export const MAX_GRPC_PAGE_SIZE = 200;

@Controller()
@GrpcEndpoint()
export class IncidentsGrpcController {
  constructor(
    private readonly incidents: IncidentsService,
    private readonly stream: IncidentEventStream,
  ) {}

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'CreateIncident')
  async createIncident(request: Request, metadata: Metadata): Promise<object> {
    const dto = toValidDto(
      CreateIncidentDto,
      defined({
        title: request.title,
        description: request.description ?? '',
        severity: protoEnum.severity(request.severity),
        incident_type: protoEnum.incidentType(request.incident_type),
        source: request.source,
        affected_resources: request.affected_resources,
        assignees: request.assignees,
        labels: request.labels,
        actor: request.actor,
      }),
    );
    return incidentToProto(await this.incidents.create({ ...dto, actor: actorOf(callerOf(metadata), dto.actor) }, callerOf(metadata)?.name));
  }

  @RequireScope('incidents:read')
  @GrpcMethod('IncidentService', 'GetIncident')
  async getIncident(request: Request): Promise<object> {
    const { notes, timeline, timeline_total, ...incident } = await this.incidents.get(idOf(request));
    return { incident: incidentToProto(incident), notes: notes.map(noteToProto), timeline: timeline.map(timelineEntryToProto), timeline_total };
  }

  @RequireScope('incidents:read', { expensive: true })
  @GrpcMethod('IncidentService', 'ListIncidents')
  async listIncidents(request: Request): Promise<object> {
    const query = toValidDto(
      ListIncidentsQuery,
      defined({
        state: protoEnum.list(protoEnum.state, request.state),
        severity: protoEnum.list(protoEnum.severity, request.severity),
        source: Array.isArray(request.source) && request.source.length > 0 ? request.source : undefined,
        incident_type: protoEnum.list(protoEnum.incidentType, request.incident_type),
        active_only: request.active_only,
        page: request.page,
        page_size: request.page_size,
      }),
    );
    // Encoding 500 incidents of 64 labels as protobuf is one task of 140 ms; 200 stay near 60.
    if ((query.page_size ?? 0) > MAX_GRPC_PAGE_SIZE) {
      throw new ValidationFailed([{ field: 'page_size', message: `page_size must not be greater than ${MAX_GRPC_PAGE_SIZE} on gRPC` }]);
    }
    const page = await this.incidents.listPage(query);
    return { ...page, items: page.items.map(incidentToProto) };
  }

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'UpdateIncident')
  async updateIncident(request: Request, metadata: Metadata): Promise<object> {
    const id = idOf(request);
    const dto = toValidDto(
      UpdateIncidentDto,
      defined({
        title: request.title,
        description: request.description,
        severity: protoEnum.severity(request.severity),
        assignees: wrapped(request.assignees, []),
        labels: wrapped(request.labels, {}),
        actor: request.actor,
      }),
    );
    return incidentToProto(await this.incidents.update(id, { ...dto, actor: actorOf(callerOf(metadata), dto.actor) }, callerOf(metadata)?.name));
  }

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'TransitionIncident')
  async transitionIncident(request: Request, metadata: Metadata): Promise<object> {
    const id = idOf(request);
    const dto = toValidDto(
      TransitionIncidentDto,
      defined({
        state: protoEnum.state(request.state),
        actor: request.actor,
        note: request.note,
        resolution: resolutionFromProto(request.resolution),
      }),
    );
    const resolution = dto.resolution && resolutionOf(dto.resolution);
    return incidentToProto(
      await this.incidents.transition(id, dto.state, actorOf(callerOf(metadata), dto.actor) ?? dto.actor, dto.note, resolution, callerOf(metadata)?.name),
    );
  }

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'ResolveIncident')
  async resolveIncident(request: Request, metadata: Metadata): Promise<object> {
    const id = idOf(request);
    const dto = toValidDto(ResolveIncidentDto, resolutionFromProto(request));
    const resolution = resolutionOf(dto);
    const resolvedBy = actorOf(callerOf(metadata), resolution.resolved_by) ?? resolution.resolved_by;
    return incidentToProto(await this.incidents.resolve(id, { ...resolution, resolved_by: resolvedBy }, undefined, callerOf(metadata)?.name));
  }

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'CloseIncident')
  async closeIncident(request: Request, metadata: Metadata): Promise<object> {
    const id = idOf(request);
    const dto = toValidDto(CloseIncidentDto, defined({ actor: request.actor, note: request.note }));
    return incidentToProto(await this.incidents.close(id, actorOf(callerOf(metadata), dto.actor) ?? 'system', dto.note, callerOf(metadata)?.name));
  }

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'AcknowledgeIncident')
  async acknowledgeIncident(request: Request, metadata: Metadata): Promise<object> {
    const id = idOf(request);
    const dto = toValidDto(AcknowledgeIncidentDto, defined({ actor: request.actor, note: request.note }));
    const key = callerOf(metadata)?.name;
    return incidentToProto(await this.incidents.acknowledge(id, actorOf(callerOf(metadata), dto.actor) ?? key ?? 'system', dto.note, key));
  }

  @RequireScope('incidents:write')
  @GrpcMethod('IncidentService', 'AddNote')
  async addNote(request: Request, metadata: Metadata): Promise<object> {
    const id = idOf(request);
    const dto = toValidDto(AddNoteDto, defined({ author: request.author, content: request.content }));
    return noteToProto(await this.incidents.addNote(id, actorOf(callerOf(metadata), dto.author) ?? dto.author, dto.content, callerOf(metadata)?.name));
  }

  @RequireScope('incidents:read', { stream: true })
  @GrpcMethod('IncidentService', 'StreamIncidents')
  streamIncidents(request: Request, _metadata: unknown, call: ServerWritableStream<unknown, unknown>): Observable<object> {
    const states = protoEnum.list(protoEnum.state, request.state);
    const severities = protoEnum.list(protoEnum.severity, request.severity);
    const bad = [
      ...(states ?? []).map((s, i) => [s, `state[${i}]`] as const).filter(([s]) => typeof s !== 'string' || !/^[A-Z][a-z]+$/.test(s)),
      ...(severities ?? []).map((s, i) => [s, `severity[${i}]`] as const).filter(([s]) => typeof s !== 'string' || !/^P[0-4]$/.test(s)),
    ];
    if (bad.length > 0) throw new ValidationFailed(bad.map(([, field]) => ({ field, message: `${field} is not a known value` })));
    // Checked above: strings of known values.
    return this.stream
      .eventsFor({ states: states as string[] | undefined, severities: severities as string[] | undefined }, () => call.writableNeedDrain)
      .pipe(map(eventToProto));
  }
}

function eventToProto(event: IncidentEvent): object {
  return {
    event_type: event.name,
    occurred_at: timestampOf(event.occurred_at),
    actor: event.actor,
    incident: incidentToProto(event.incident),
    ...(event instanceof IncidentStateEvent && event.previous_state ? { previous_state: toProtoEnum.state(event.previous_state) } : {}),
    ...(event instanceof IncidentUpdatedEvent ? { changes: JSON.stringify(event.changes) } : {}),
  };
}
