import { UpstreamAlertsController } from './upstream-alerts.controller';
import { Module } from '@nestjs/common';
import { AlertsModule } from '../alerts/alerts.module';
import { IncidentsModule } from '../incidents/incidents.module';
import { AlertmanagerController } from './alertmanager/alertmanager.controller';
import { IntegrationsService } from './integrations.service';
import { PagerDutyEventsController } from './pagerduty/pagerduty-events.controller';
import { UpstreamAlertRepository } from './upstream-alert.repository';
import { SlackInteractionsController } from './slack/slack-interactions.controller';
import { SlackInteractionsService } from './slack/slack-interactions.service';

/** Alerts in the senders' own formats: Alertmanager, Grafana, PagerDuty Events API v2. */
@Module({
  imports: [AlertsModule, IncidentsModule],
  controllers: [AlertmanagerController, PagerDutyEventsController, SlackInteractionsController, UpstreamAlertsController],
  providers: [IntegrationsService, UpstreamAlertRepository, SlackInteractionsService],
})
export class IntegrationsModule {}
