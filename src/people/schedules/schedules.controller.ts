import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtension,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { Public, RequireScope } from '../../auth/access.decorators';
import { Caller, Principal } from '../../auth/request-principal';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../../common/error.view';
import { UuidParamPipe } from '../../common/pipes';
import { Clock } from '../../common/clock';
import {
  CreateOverrideDto,
  CreateScheduleDto,
  OnCallQuery,
  OnCallView,
  OverrideView,
  ScheduleView,
  OverridesQuery,
  ShiftsQuery,
  ShiftsView,
  UpdateScheduleDto,
} from '../dto/schedule.dto';
import { PeopleService } from '../people.service';
import type { Schedule } from './schedule.repository';
import { SchedulesService } from './schedules.service';

@ApiTags('schedules')
@ApiCommonErrors()
@Controller('v1/schedules')
export class SchedulesController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly clock: Clock,
  ) {}

  @RequireScope('people:write')
  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Add a schedule: a time zone and layers of rotating members' })
  @ApiCreatedResponse({ type: ScheduleView })
  @ApiConflictResponse({ type: ErrorView, description: 'NAME_TAKEN' })
  create(@Body() dto: CreateScheduleDto): Promise<Schedule> {
    return this.schedules.create(dto);
  }

  @RequireScope('incidents:read')
  @Get()
  @ApiOperation({ summary: 'List schedules by name' })
  @ApiOkResponse({ type: [ScheduleView] })
  list(): Promise<Schedule[]> {
    return this.schedules.list();
  }

  @RequireScope('incidents:read')
  @Get(':id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'One schedule' })
  @ApiOkResponse({ type: ScheduleView })
  @ApiNotFoundResponse({ type: ErrorView })
  get(@Param('id', UuidParamPipe) id: string): Promise<Schedule> {
    return this.schedules.get(id);
  }

  @RequireScope('people:write')
  @Patch(':id')
  @ApiJsonBodyErrors()
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Change a schedule; layers, when given, replace all layers' })
  @ApiOkResponse({ type: ScheduleView })
  update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateScheduleDto): Promise<Schedule> {
    return this.schedules.update(id, dto);
  }

  @RequireScope('people:write')
  @Delete(':id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Remove a schedule and its overrides' })
  @ApiNoContentResponse()
  async remove(@Param('id', UuidParamPipe) id: string): Promise<void> {
    await this.schedules.delete(id);
  }

  @RequireScope('incidents:read')
  @Get(':id/on-call')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Who is on call at a moment (default now), with the shift that holds it; or the gap, and why' })
  @ApiOkResponse({ type: OnCallView })
  onCall(@Param('id', UuidParamPipe) id: string, @Query() query: OnCallQuery): Promise<OnCallView> {
    return this.schedules.onCall(id, query.at);
  }

  @RequireScope('incidents:read', { expensive: true })
  @Get(':id/shifts')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'The final shifts of [from, to) after layers, restrictions and overrides, and the gaps nobody covers (at most 93 days)' })
  @ApiOkResponse({ type: ShiftsView })
  shifts(@Param('id', UuidParamPipe) id: string, @Query() query: ShiftsQuery): Promise<ShiftsView> {
    return this.schedules.shifts(id, query.from, query.to);
  }

  @RequireScope('incidents:read')
  @Get(':id/overrides')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Overrides that overlap [from, to) (default: now to 31 days ahead)' })
  @ApiOkResponse({ type: [OverrideView] })
  overrides(@Param('id', UuidParamPipe) id: string, @Query() query: OverridesQuery): Promise<OverrideView[]> {
    const from = query.from ? Date.parse(query.from) : this.clock.now().getTime();
    const to = query.to ? Date.parse(query.to) : from + 31 * 86_400_000;
    return this.schedules.listOverrides(id, new Date(from).toISOString(), new Date(to).toISOString());
  }

  @RequireScope('people:write')
  @Post(':id/overrides')
  @ApiJsonBodyErrors()
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'A person covers [starts_at, ends_at) in place of whoever the layers put on call' })
  @ApiCreatedResponse({ type: OverrideView })
  addOverride(@Param('id', UuidParamPipe) id: string, @Body() dto: CreateOverrideDto, @Caller() caller?: Principal): Promise<OverrideView> {
    return this.schedules.addOverride(id, dto, caller?.user?.name ?? caller?.name ?? 'system');
  }

  @RequireScope('people:write')
  @Delete(':id/overrides/:overrideId')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiParam({ name: 'overrideId', format: 'uuid' })
  @ApiOperation({ summary: 'Remove an override' })
  @ApiNoContentResponse()
  async removeOverride(@Param('id', UuidParamPipe) id: string, @Param('overrideId', UuidParamPipe) overrideId: string): Promise<void> {
    await this.schedules.deleteOverride(id, overrideId);
  }
}

@ApiTags('schedules')
@ApiCommonErrors()
@Controller('v1/on-call')
export class OnCallController {
  constructor(private readonly schedules: SchedulesService) {}

  @RequireScope('incidents:read', { expensive: true })
  @Get()
  @ApiOperation({ summary: "Every schedule's on-call person now (or at `at`), and the schedules nobody covers" })
  @ApiOkResponse({ type: [OnCallView] })
  everywhere(@Query() query: OnCallQuery): Promise<OnCallView[]> {
    return this.schedules.onCallEverywhere(query.at);
  }
}

/**
 * Calendar feeds. Calendar applications send no credentials: the unguessable token in the path
 * is the user's (POST /v1/users/{id}/calendar-link), and stops working when replaced or when the
 * user is deactivated.
 */
const FEED_CACHE_MS = 300_000;

@ApiTags('schedules')
@ApiExtension('x-credential', 'path.token')
@Controller('v1/calendars')
export class CalendarsController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly people: PeopleService,
    private readonly clock: Clock,
  ) {}

  @Public()
  @Get(':token/shifts.ics')
  @Header('content-type', 'text/calendar; charset=utf-8')
  @Header('cache-control', 'private, max-age=300')
  @ApiProduces('text/calendar')
  @ApiOkResponse({ description: 'An iCalendar (RFC 5545) document', content: { 'text/calendar': { schema: { type: 'string' } } } })
  @ApiOperation({ summary: "The token's user's shifts in every schedule (iCalendar, two weeks back and eight ahead)" })
  @ApiNotFoundResponse({ type: ErrorView })
  async userShifts(@Param('token') token: string): Promise<string> {
    const user = await this.userOf(token);
    return this.cached(`${user.id}|shifts`, () => this.schedules.userCalendar(user));
  }

  @Public()
  @Get(':token/schedules/:id.ics')
  @Header('content-type', 'text/calendar; charset=utf-8')
  @Header('cache-control', 'private, max-age=300')
  @ApiProduces('text/calendar')
  @ApiOkResponse({ description: 'An iCalendar (RFC 5545) document', content: { 'text/calendar': { schema: { type: 'string' } } } })
  @ApiOperation({ summary: "One schedule's final shifts (iCalendar), for the holder of a user's calendar token" })
  @ApiNotFoundResponse({ type: ErrorView })
  async scheduleShifts(@Param('token') token: string, @Param('id', UuidParamPipe) id: string): Promise<string> {
    const user = await this.userOf(token);
    return this.cached(`${user.id}|${id}`, () => this.schedules.scheduleCalendar(id, user));
  }

  /**
   * Feeds are kept for the five minutes their cache-control allows: these routes take no API key,
   * so no per-key limit applies, and a calendar application (or a leaked link) asking again and
   * again costs a lookup of the token, not a computation. The token is checked on every request.
   */
  private async cached(key: string, render: () => Promise<string>): Promise<string> {
    const now = this.clock.now().getTime();
    const hit = this.feeds.get(key);
    if (hit && hit.until > now) return hit.body;
    if (this.feeds.size >= 1000) this.feeds.clear();
    const body = await render();
    this.feeds.set(key, { body, until: now + FEED_CACHE_MS });
    return body;
  }

  private readonly feeds = new Map<string, { body: string; until: number }>();

  private async userOf(token: string) {
    const user = /^[A-Za-z0-9_-]{43}$/.test(token) ? await this.people.userOfCalendarToken(token) : null;
    // One answer for a token that never existed and one that was replaced: nothing to probe.
    if (!user) throw new DomainError(ErrorCode.USER_NOT_FOUND, 'no calendar for this link');
    return user;
  }
}
