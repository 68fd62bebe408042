import { Module } from '@nestjs/common';
import { IncidentLifecycleHooks } from './incident-lifecycle-hooks';
import { IncidentRepository } from './incident.repository';
import { IncidentEventStream } from './incident-event-stream';
import { IncidentsController } from './incidents.controller';
import { IncidentsGrpcController } from './incidents.grpc.controller';
import { IncidentsService } from './incidents.service';

@Module({
  controllers: [IncidentsController, IncidentsGrpcController],
  providers: [IncidentsService, IncidentRepository, IncidentLifecycleHooks, IncidentEventStream],
  exports: [IncidentsService, IncidentLifecycleHooks],
})
export class IncidentsModule {}
