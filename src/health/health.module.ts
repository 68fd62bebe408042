import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { HealthGrpcController } from './health.grpc.controller';
import { NotificationsModule } from '../notifications/notifications.module';

@Module({ imports: [NotificationsModule], controllers: [HealthController, HealthGrpcController] })
export class HealthModule {}
