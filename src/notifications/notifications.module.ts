import { Module } from '@nestjs/common';
import { OutboundPolicy } from '../common/outbound/outbound-policy';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { IncidentsModule } from '../incidents/incidents.module';
import { PeopleModule } from '../people/people.module';
import { RoutingModule } from '../routing/routing.module';
import { SilencesModule } from '../silences/silences.module';
import { EscalationService } from './escalation/escalation.service';
import { CONTACT_CHANNELS, PersonEmail, SlackDirectMessage } from './escalation/contact-channels';
import { PersonPaging } from './escalation/person-paging';
import { AckLinks } from './escalation/ack-links';
import { NtfyPush } from './escalation/ntfy-push.contact';
import { NtfyProvider } from './channels/ntfy/ntfy.provider';
import { PhoneDeliveryRepository } from './escalation/phone-deliveries.repository';
import { SmsContact, VoiceContact } from './escalation/phone-contacts';
import { PhoneReplies } from './escalation/phone-replies.service';
import { SmsProvider, TwilioApi, VoiceProvider } from './channels/twilio/twilio.provider';
import { ScheduledStepRepository } from './escalation/scheduled-step.repository';
import { CHANNEL_PROVIDERS } from './channels/channel-provider';
import { EmailProvider } from './channels/email/email.provider';
import { HttpClient } from './channels/http-client';
import { PagerDutyProvider } from './channels/pagerduty/pagerduty.provider';
import { SlackProvider } from './channels/slack/slack.provider';
import { TeamsProvider } from './channels/teams/teams.provider';
import { WebhookProvider } from './channels/webhook/webhook.provider';
import { DeliveryPolicy } from './delivery-policy';
import { DeliveryRepository } from './delivery.repository';
import { DeliveryClaimsRepository } from './delivery-claims.repository';
import { DeliveryHistoryRepository } from './delivery-history.repository';
import { DeliveryWorkerPool } from './delivery-worker-pool';
import { NotificationRouter } from './notification-router';
import { NotificationsController } from './notifications.controller';
import { NotificationsService } from './notifications.service';

@Module({
  imports: [IncidentsModule, RoutingModule, SilencesModule, PeopleModule],
  controllers: [NotificationsController],
  providers: [
    { provide: OutboundPolicy, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new OutboundPolicy(config.outbound) },
    HttpClient,
    SlackProvider,
    EmailProvider,
    PagerDutyProvider,
    WebhookProvider,
    NtfyProvider,
    TeamsProvider,
    TwilioApi,
    SmsProvider,
    VoiceProvider,
    {
      provide: CHANNEL_PROVIDERS,
      useFactory: (...providers: unknown[]) => providers,
      inject: [SlackProvider, EmailProvider, PagerDutyProvider, WebhookProvider, TeamsProvider, SmsProvider, VoiceProvider, NtfyProvider],
    },
    DeliveryRepository,
    DeliveryClaimsRepository,
    DeliveryHistoryRepository,
    DeliveryPolicy,
    NotificationRouter,
    DeliveryWorkerPool,
    ScheduledStepRepository,
    SlackDirectMessage,
    PersonEmail,
    AckLinks,
    NtfyPush,
    PhoneDeliveryRepository,
    SmsContact,
    VoiceContact,
    {
      provide: CONTACT_CHANNELS,
      useFactory: (...channels: unknown[]) => channels,
      inject: [SlackDirectMessage, PersonEmail, SmsContact, VoiceContact, NtfyPush],
    },
    PersonPaging,
    EscalationService,
    PhoneReplies,
    NotificationsService,
  ],
  exports: [NotificationsService, PhoneReplies],
})
export class NotificationsModule {}
