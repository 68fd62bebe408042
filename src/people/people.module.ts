import { Module } from '@nestjs/common';
import { RoutingModule } from '../routing/routing.module';
import { PeopleRepository } from './people.repository';
import { TeamsController, UsersController } from './people.controller';
import { PeopleService } from './people.service';
import { ScheduleRepository } from './schedules/schedule.repository';
import { CalendarsController, OnCallController, SchedulesController } from './schedules/schedules.controller';
import { SchedulesService } from './schedules/schedules.service';

/** Users, teams, schedules and overrides: who is on call, and how each person is reached. */
@Module({
  imports: [RoutingModule],
  controllers: [UsersController, TeamsController, SchedulesController, OnCallController, CalendarsController],
  providers: [PeopleRepository, PeopleService, ScheduleRepository, SchedulesService],
  exports: [PeopleService, SchedulesService],
})
export class PeopleModule {}
