import { Module } from '@nestjs/common';
import { IncidentLifecycleHooks } from './incident-lifecycle-hooks';
import { IncidentRepository } from './incident.repository';
import { IncidentsController } from './incidents.controller';
import { IncidentsService } from './incidents.service';

@Module({
  controllers: [IncidentsController],
  providers: [IncidentsService, IncidentRepository, IncidentLifecycleHooks],
  exports: [IncidentsService, IncidentLifecycleHooks],
})
export class IncidentsModule {}
