import { Module } from '@nestjs/common';
import { AlertFolding } from './alert-folding.service';
import { IncidentFigures } from './incident-figures';
import { IncidentRepository } from './incident.repository';
import { IncidentEventStream } from './incident-event-stream';
import { IncidentEventsController } from './incident-events.controller';
import { IncidentEventPublisher } from './incident-events.publisher';
import { IncidentsController } from './incidents.controller';
import { IncidentsGrpcController } from './incidents.grpc.controller';
import { IncidentsService } from './incidents.service';

@Module({
  controllers: [IncidentEventsController, IncidentsController, IncidentsGrpcController],
  providers: [IncidentsService, AlertFolding, IncidentEventPublisher, IncidentRepository, IncidentEventStream, IncidentFigures],
  exports: [IncidentsService, AlertFolding],
})
export class IncidentsModule {}
