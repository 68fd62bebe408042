import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { RequireScope } from '../auth/access.decorators';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { UuidParamPipe } from '../common/pipes';
import { CalendarLinkView, CreateTeamDto, CreateUserDto, ListUsersQuery, TeamView, UpdateTeamDto, UpdateUserDto, UserView } from './dto/people.dto';
import { PeopleService, teamView, userView } from './people.service';

@ApiTags('people')
@ApiCommonErrors()
@Controller('v1/users')
export class UsersController {
  constructor(private readonly people: PeopleService) {}

  @RequireScope('people:write')
  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Add a user: who they are and how they want to be reached' })
  @ApiCreatedResponse({ type: UserView })
  @ApiConflictResponse({ type: ErrorView, description: 'NAME_TAKEN: another user has the email' })
  async create(@Body() dto: CreateUserDto): Promise<UserView> {
    return userView(await this.people.createUser(dto));
  }

  @RequireScope('incidents:read')
  @Get()
  @ApiOperation({ summary: 'List users by name (active ones unless include_inactive)' })
  @ApiOkResponse({ type: [UserView] })
  async list(@Query() query: ListUsersQuery): Promise<UserView[]> {
    return (await this.people.listUsers(query.include_inactive === true)).map(userView);
  }

  @RequireScope('incidents:read')
  @Get(':id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'One user' })
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse({ type: ErrorView })
  async get(@Param('id', UuidParamPipe) id: string): Promise<UserView> {
    return userView(await this.people.getUser(id));
  }

  @RequireScope('people:write')
  @Patch(':id')
  @ApiJsonBodyErrors()
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Change a user; fields left out stay as they are (null clears slack_user_id or phone)' })
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse({ type: ErrorView })
  async update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateUserDto): Promise<UserView> {
    return userView(await this.people.updateUser(id, dto));
  }

  @RequireScope('people:write')
  @Post(':id/deactivate')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Deactivate a user: never notified again; their time in schedules shows as a gap; their calendar link stops' })
  @ApiOkResponse({ type: UserView })
  async deactivate(@Param('id', UuidParamPipe) id: string): Promise<UserView> {
    return userView(await this.people.setActive(id, false));
  }

  @RequireScope('people:write')
  @Post(':id/reactivate')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Reactivate a user' })
  @ApiOkResponse({ type: UserView })
  async reactivate(@Param('id', UuidParamPipe) id: string): Promise<UserView> {
    return userView(await this.people.setActive(id, true));
  }

  @RequireScope('people:write')
  @Post(':id/calendar-link')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: "A new calendar (iCalendar) link for the user's shifts; the previous link stops working. Shown once." })
  @ApiOkResponse({ type: CalendarLinkView })
  newCalendarLink(@Param('id', UuidParamPipe) id: string): Promise<CalendarLinkView> {
    return this.people.newCalendarLink(id);
  }
}

@ApiTags('people')
@ApiCommonErrors()
@Controller('v1/teams')
export class TeamsController {
  constructor(private readonly people: PeopleService) {}

  @RequireScope('people:write')
  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Add a team: its members and the escalation policy a route naming it runs' })
  @ApiCreatedResponse({ type: TeamView })
  @ApiConflictResponse({ type: ErrorView, description: 'NAME_TAKEN' })
  async create(@Body() dto: CreateTeamDto): Promise<TeamView> {
    return teamView(await this.people.createTeam(dto));
  }

  @RequireScope('incidents:read')
  @Get()
  @ApiOperation({ summary: 'List teams by name' })
  @ApiOkResponse({ type: [TeamView] })
  async list(): Promise<TeamView[]> {
    return (await this.people.listTeams()).map(teamView);
  }

  @RequireScope('incidents:read')
  @Get(':id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'One team' })
  @ApiOkResponse({ type: TeamView })
  @ApiNotFoundResponse({ type: ErrorView })
  async get(@Param('id', UuidParamPipe) id: string): Promise<TeamView> {
    return teamView(await this.people.getTeam(id));
  }

  @RequireScope('people:write')
  @Patch(':id')
  @ApiJsonBodyErrors()
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Change a team; member_ids, when given, replaces the members' })
  @ApiOkResponse({ type: TeamView })
  async update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateTeamDto): Promise<TeamView> {
    return teamView(await this.people.updateTeam(id, dto));
  }

  @RequireScope('people:write')
  @Delete(':id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Remove a team (its users stay)' })
  @ApiNoContentResponse()
  async remove(@Param('id', UuidParamPipe) id: string): Promise<void> {
    await this.people.deleteTeam(id);
  }
}
