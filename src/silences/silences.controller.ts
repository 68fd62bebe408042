import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/access.decorators';
import { actorOf, Caller, Principal } from '../auth/request-principal';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { UuidParamPipe } from '../common/pipes';
import type { Silence } from './silence';
import { CreateSilenceDto, ListSilencesQuery, PreviewSilenceDto, SilenceView } from './silence.dto';
import { SilencesService } from './silences.service';

@ApiTags('silences')
@ApiCommonErrors()
@Controller('v1/silences')
export class SilencesController {
  constructor(private readonly silences: SilencesService) {}

  @RequireScope('incidents:write')
  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({
    summary: 'Silence matching incidents from starts_at to ends_at (a later start is a maintenance window)',
    description: 'Alerts are still taken and deduplicated; deliveries are recorded as suppressed with the silence id, and not sent.',
  })
  @ApiCreatedResponse({ type: SilenceView })
  create(@Body() dto: CreateSilenceDto, @Caller() caller?: Principal): Promise<Silence> {
    return this.silences.create({ ...dto, created_by: actorOf(caller, dto.created_by) }, caller?.user?.name ?? caller?.name ?? 'system', caller?.name);
  }

  @RequireScope('incidents:read', { expensive: true })
  @Post('preview')
  @HttpCode(200)
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'The open incidents a silence with these matchers would match now (the first 100, and how many in all)' })
  preview(@Body() dto: PreviewSilenceDto): Promise<object> {
    return this.silences.preview(dto.matchers);
  }

  @RequireScope('incidents:read')
  @Get()
  @ApiOperation({ summary: 'List silences, newest first: all, or only pending, active or expired ones' })
  @ApiOkResponse({ type: [SilenceView] })
  list(@Query() query: ListSilencesQuery): Promise<Silence[]> {
    return this.silences.list(query.state);
  }

  @RequireScope('incidents:read')
  @Get(':id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'One silence' })
  @ApiOkResponse({ type: SilenceView })
  @ApiNotFoundResponse({ type: ErrorView })
  get(@Param('id', UuidParamPipe) id: string): Promise<Silence> {
    return this.silences.get(id);
  }

  @RequireScope('incidents:write')
  @Post(':id/expire')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'End a silence now (a pending one never starts)' })
  @ApiOkResponse({ type: SilenceView })
  @ApiNotFoundResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'INVALID_TRANSITION: already expired' })
  expire(@Param('id', UuidParamPipe) id: string): Promise<Silence> {
    return this.silences.expire(id);
  }
}
