import { Module } from '@nestjs/common';
import { IncidentFigures } from './incident-figures';
import { IncidentRepository } from './incident.repository';
import { IncidentEventStream } from './incident-event-stream';
import { IncidentEventsController } from './incident-events.controller';
import { IncidentsController } from './incidents.controller';
import { IncidentsGrpcController } from './incidents.grpc.controller';
import { IncidentsService } from './incidents.service';

@Module({
  controllers: [IncidentEventsController, IncidentsController, IncidentsGrpcController],
  providers: [IncidentsService, IncidentRepository, IncidentEventStream, IncidentFigures],
  exports: [IncidentsService],
})
export class IncidentsModule {}
