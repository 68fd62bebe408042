import { HistoryPageQuery } from '../common/page.query';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/access.decorators';
import { actorOf, Caller, Principal } from '../auth/request-principal';
import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { UuidParamPipe } from '../common/pipes';
import { Incident, IncidentDetail, Note, TimelineEntry } from './domain/incident';
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
import { IncidentDetailView, IncidentPageView, IncidentView, NoteView, TimelineEntryView } from './dto/incident.view';
import { IncidentsService } from './incidents.service';

@ApiTags('incidents')
@ApiCommonErrors()
@Controller('v1/incidents')
export class IncidentsController {
  constructor(private readonly incidents: IncidentsService) {}

  @RequireScope('incidents:write')
  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Create an incident directly (state Detected)' })
  @ApiCreatedResponse({ type: IncidentView })
  @ApiConflictResponse({ type: ErrorView, description: 'DUPLICATE_INCIDENT: an open incident has the same fingerprint; details.existing_incident_id' })
  create(@Body() dto: CreateIncidentDto, @Caller() caller?: Principal): Promise<Incident> {
    return this.incidents.create({ ...dto, actor: actorOf(caller, dto.actor) }, caller?.name);
  }

  @RequireScope('incidents:read', { expensive: true })
  @Get()
  @ApiOperation({ summary: 'List incidents, newest first' })
  @ApiOkResponse({ type: IncidentPageView })
  async list(@Query() query: ListIncidentsQuery): Promise<{ items: Incident[]; total: number; page: number; page_size: number }> {
    return this.incidents.listPage(query);
  }

  @RequireScope('incidents:read')
  @Get(':id')
  @ApiOperation({ summary: 'One incident with its notes and timeline' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentDetailView })
  @ApiNotFoundResponse({ type: ErrorView })
  get(@Param('id', UuidParamPipe) id: string): Promise<IncidentDetail> {
    return this.incidents.get(id);
  }

  @RequireScope('incidents:write')
  @Patch(':id')
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Change title, description, severity, assignees or labels' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentView })
  @ApiNotFoundResponse({ type: ErrorView })
  update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateIncidentDto, @Caller() caller?: Principal): Promise<Incident> {
    return this.incidents.update(id, { ...dto, actor: actorOf(caller, dto.actor) }, caller?.name);
  }

  @RequireScope('incidents:write')
  @Post(':id/transition')
  @ApiJsonBodyErrors()
  @HttpCode(200)
  @ApiOperation({ summary: 'Move the incident to another state' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'INVALID_TRANSITION (details.from, details.to) or ALREADY_RESOLVED' })
  transition(@Param('id', UuidParamPipe) id: string, @Body() dto: TransitionIncidentDto, @Caller() caller?: Principal): Promise<Incident> {
    return this.incidents.transition(
      id,
      dto.state,
      actorOf(caller, dto.actor) ?? 'system',
      dto.note,
      dto.resolution && resolutionOf(dto.resolution),
      caller?.name,
    );
  }

  @RequireScope('incidents:write')
  @Post(':id/acknowledge')
  @ApiJsonBodyErrors()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Take the incident on: Detected → Triaged, recording acknowledged_at and acknowledged_by',
    description: 'Sends PagerDuty an acknowledge for every integration the incident triggered, updates its Slack messages and stops its escalation.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({
    type: ErrorView,
    description: 'ALREADY_ACKNOWLEDGED (details.acknowledged_by), or INVALID_TRANSITION for a Resolved or Closed incident',
  })
  acknowledge(@Param('id', UuidParamPipe) id: string, @Body() dto: AcknowledgeIncidentDto, @Caller() caller?: Principal): Promise<Incident> {
    return this.incidents.acknowledge(id, actorOf(caller, dto.actor) ?? caller?.name ?? 'system', dto.note, caller?.name);
  }

  @RequireScope('incidents:write')
  @Post(':id/resolve')
  @ApiJsonBodyErrors()
  @HttpCode(200)
  @ApiOperation({ summary: 'Resolve the incident with resolution details' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'ALREADY_RESOLVED or INVALID_TRANSITION (from Closed)' })
  resolve(@Param('id', UuidParamPipe) id: string, @Body() dto: ResolveIncidentDto, @Caller() caller?: Principal): Promise<Incident> {
    return this.incidents.resolve(id, { ...resolutionOf(dto), resolved_by: actorOf(caller, dto.resolved_by) ?? dto.resolved_by }, undefined, caller?.name);
  }

  @RequireScope('incidents:write')
  @Post(':id/close')
  @ApiJsonBodyErrors()
  @HttpCode(200)
  @ApiOperation({ summary: 'Close a resolved incident (final)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'INVALID_TRANSITION unless the incident is Resolved' })
  close(@Param('id', UuidParamPipe) id: string, @Body() dto: CloseIncidentDto, @Caller() caller?: Principal): Promise<Incident> {
    return this.incidents.close(id, actorOf(caller, dto.actor) ?? 'system', dto.note, caller?.name);
  }

  @RequireScope('incidents:write')
  @Post(':id/notes')
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Add a note' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiCreatedResponse({ type: NoteView })
  @ApiNotFoundResponse({ type: ErrorView })
  addNote(@Param('id', UuidParamPipe) id: string, @Body() dto: AddNoteDto, @Caller() caller?: Principal): Promise<Note> {
    return this.incidents.addNote(id, actorOf(caller, dto.author) ?? dto.author, dto.content, caller?.name);
  }

  @RequireScope('incidents:read')
  @Get(':id/timeline')
  @ApiOperation({ summary: 'The timeline, oldest first, a page at a time (up to 1,000 entries; X-Total-Count has them all)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: [TimelineEntryView], headers: { 'X-Total-Count': { description: 'Entries in the whole timeline', schema: { type: 'integer' } } } })
  @ApiNotFoundResponse({ type: ErrorView })
  async timeline(
    @Param('id', UuidParamPipe) id: string,
    @Query() query: HistoryPageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TimelineEntry[]> {
    const page = await this.incidents.timeline(id, query);
    reply.header('x-total-count', String(page.total));
    return page.items;
  }
}
