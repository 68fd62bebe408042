import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import type { Incident } from '../../incidents/domain/incident';
import type { User } from '../../people/person';
import { ntfyMessage } from '../channels/ntfy/ntfy.render';
import { NotificationRouter, PlannedDelivery } from '../notification-router';
import { headline } from '../render';
import { AckLinks } from './ack-links';
import type { ContactChannel, PersonMessage } from './contact-channels';

/**
 * Push to the person's phone through ntfy: a message to their topic, with an Acknowledge button
 * that POSTs a signed, single-use link (when links can be made) and an Open button to the console.
 */
@Injectable()
export class NtfyPush implements ContactChannel {
  readonly method = 'push' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly router: NotificationRouter,
    private readonly ackLinks: AckLinks,
  ) {}

  unusable(user: User): string | null {
    if (!user.ntfy_topic) return 'no ntfy topic';
    if (!this.config.notifications.ntfy_enabled) return 'ntfy is off (notifications.ntfy_enabled)';
    return null;
  }

  plan(incident: Incident, user: User, message: PersonMessage): PlannedDelivery {
    const topic = user.ntfy_topic ?? '';
    const text = message.text ?? headline(message.eventName, incident);
    return {
      channel: 'ntfy',
      action: 'send',
      target: topic,
      render: () => ntfyMessage(incident, topic, text, { link: this.router.linkTo(incident), ackUrl: this.ackLinks.ackUrl(incident.id, user.id, 'ntfy') }),
    };
  }
}
