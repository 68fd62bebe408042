import { Module } from '@nestjs/common';
import { IncidentsModule } from '../incidents/incidents.module';
import { SilencesModule } from '../silences/silences.module';
import { RoutingController } from './routing.controller';
import { RoutingService } from './routing.service';

/** Receivers, routes and escalation policies in force, their reload and their explanation. */
@Module({
  imports: [IncidentsModule, SilencesModule],
  controllers: [RoutingController],
  providers: [RoutingService],
  exports: [RoutingService],
})
export class RoutingModule {}
