import { DynamicModule, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { AlertsModule } from './alerts/alerts.module';
import { AuthModule } from './auth/auth.module';
import { Clock } from './common/clock';
import { CommonModule } from './common/common.module';
import { ConfigModule, ConfigSource } from './config/config.module';
import type { AppConfig } from './config/config.schema';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IncidentsModule } from './incidents/incidents.module';
import { MetricsModule } from './metrics/metrics.module';
import { IntegrationsModule } from './integrations/integrations.module';
import { PeopleModule } from './people/people.module';
import { NotificationsModule } from './notifications/notifications.module';
import { RoutingModule } from './routing/routing.module';
import { SilencesModule } from './silences/silences.module';
import { ReportsModule } from './reports/reports.module';

@Module({})
export class AppModule {
  static forConfig(config: AppConfig, clock?: Clock, configSource?: ConfigSource): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, configSource),
        CommonModule.forRoot(clock),
        EventEmitterModule.forRoot({ wildcard: false }),
        MetricsModule.forConfig(config),
        DatabaseModule,
        AuthModule,
        IncidentsModule,
        AlertsModule,
        IntegrationsModule,
        PeopleModule,
        NotificationsModule,
        SilencesModule,
        ReportsModule,
        RoutingModule,
        HealthModule,
      ],
    };
  }
}
