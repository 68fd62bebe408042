import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import type { AppConfig } from '../config/config.schema';
import { IncidentTransitionsListener } from './incident-transitions.listener';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { MetricsService } from './metrics.service';

/**
 * The Prometheus metrics. Global, like the clock: the store, the alerts, the notifications and
 * the transports record into MetricsService, and it imports none of them (the scrape-time
 * gauges read what the feature modules hand it through MetricsService.provide).
 */
@Global()
@Module({})
export class MetricsModule {
  static forConfig(config: AppConfig): DynamicModule {
    const { enabled, port } = config.metrics;
    const providers: Provider[] = [MetricsService];
    if (enabled) providers.push(IncidentTransitionsListener);
    if (enabled && port !== 0) providers.push(MetricsListener);
    return {
      module: MetricsModule,
      controllers: enabled && port === 0 ? [MetricsController] : [],
      providers,
      exports: [MetricsService],
    };
  }
}
