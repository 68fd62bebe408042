import { UpstreamAlertsController } from './upstream-alerts.controller';
import { Module } from '@nestjs/common';
import { AlertsModule } from '../alerts/alerts.module';
import { IncidentsModule } from '../incidents/incidents.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { PeopleModule } from '../people/people.module';
import { InboundReceipts } from './inbound-receipts';
import { AckLinksController } from './ack-links/ack-links.controller';
import { AckLinksService } from './ack-links/ack-links.service';
import { TwilioCallbacksController } from './twilio/twilio-callbacks.controller';
import { TwilioCallbacksService } from './twilio/twilio-callbacks.service';
import { AlertmanagerController } from './alertmanager/alertmanager.controller';
import { IntegrationsService } from './integrations.service';
import { PagerDutyEventsController } from './pagerduty/pagerduty-events.controller';
import { PagerDutyWebhooksController } from './pagerduty/pagerduty-webhooks.controller';
import { PagerDutyWebhooksService } from './pagerduty/pagerduty-webhooks.service';
import { UpstreamAlertRepository } from './upstream-alert.repository';
import { SlackInteractionsController } from './slack/slack-interactions.controller';
import { SlackInteractionsService } from './slack/slack-interactions.service';

/** Alerts in the senders' own formats: Alertmanager, Grafana, PagerDuty Events API v2. */
@Module({
  imports: [AlertsModule, IncidentsModule, NotificationsModule, PeopleModule],
  controllers: [
    AlertmanagerController,
    PagerDutyEventsController,
    SlackInteractionsController,
    PagerDutyWebhooksController,
    UpstreamAlertsController,
    TwilioCallbacksController,
    AckLinksController,
  ],
  providers: [
    IntegrationsService,
    UpstreamAlertRepository,
    SlackInteractionsService,
    PagerDutyWebhooksService,
    InboundReceipts,
    TwilioCallbacksService,
    AckLinksService,
  ],
})
export class IntegrationsModule {}
