import { Module } from '@nestjs/common';
import { IncidentsModule } from '../incidents/incidents.module';
import { AlertRepository } from './alert.repository';
import { AlertsController } from './alerts.controller';
import { AlertsGrpcController } from './alerts.grpc.controller';
import { AlertsService } from './alerts.service';

@Module({
  imports: [IncidentsModule],
  controllers: [AlertsController, AlertsGrpcController],
  providers: [AlertsService, AlertRepository],
  exports: [AlertsService],
})
export class AlertsModule {}
