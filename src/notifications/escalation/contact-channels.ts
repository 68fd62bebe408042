import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import type { Tx } from '../../database/transactor';
import type { Incident } from '../../incidents/domain/incident';
import type { ContactMethod, User } from '../../people/person';
import { emailMessage, emailSubject } from '../channels/email/email.render';
import { NotificationRouter, PlannedDelivery } from '../notification-router';
import { headline } from '../render';
import { AckLinks } from './ack-links';

/** What a person is notified about: the event, and the message when it is not the event's own headline. */
export interface PersonMessage {
  eventName: string;
  text?: string;
}

/**
 * One way to reach a person, behind one interface: a contact method says whether it can reach
 * this user now and plans the delivery that does. The delivery itself goes through the channel
 * providers and the worker pool like every other. Phone and push come as more of these.
 */
export interface ContactChannel {
  readonly method: ContactMethod;
  /** Why this user cannot be reached this way now (no Slack id, the channel off), or null. */
  unusable(user: User): string | null;
  plan(incident: Incident, user: User, message: PersonMessage): PlannedDelivery;
  /**
   * Optional: carries this notification in a delivery already on its way to the same address
   * (texts folded within a window). Answers that delivery's id, or null to plan one of its own.
   */
  foldWithin?(
    tx: Tx,
    incident: Incident,
    user: User,
    at: string,
    origin: { route: string; receiver: string; methods: readonly ContactMethod[] },
  ): Promise<string | null>;
}

/** A Slack direct message from the app: needs the user's Slack id and a bot token (an incoming webhook posts to one channel only). */
@Injectable()
export class SlackDirectMessage implements ContactChannel {
  readonly method = 'slack' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly router: NotificationRouter,
  ) {}

  unusable(user: User): string | null {
    if (!user.slack_user_id) return 'no Slack user id';
    if (!this.config.notifications.slack_enabled) return 'Slack is off (notifications.slack_enabled)';
    if (!this.config.secrets.slack_bot_token) return 'Slack direct messages need a bot token';
    return null;
  }

  plan(incident: Incident, user: User, message: PersonMessage): PlannedDelivery {
    return this.router.slack('post', message.eventName, incident, user.slack_user_id ?? undefined, message.text);
  }
}

/** An email to the user's own address, with a one-click acknowledgement link when links can be made (server.public_url and the link key). */
@Injectable()
export class PersonEmail implements ContactChannel {
  readonly method = 'email' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly router: NotificationRouter,
    private readonly ackLinks: AckLinks,
  ) {}

  unusable(): string | null {
    return this.config.notifications.email_enabled ? null : 'email is off (notifications.email_enabled)';
  }

  plan(incident: Incident, user: User, message: PersonMessage): PlannedDelivery {
    const subject = emailSubject(message.eventName, incident);
    const custom = message.text ? { to: [user.email], subject, body: message.text } : undefined;
    const planned = this.router.email(message.eventName, incident, custom, [user.email]);
    if (!this.ackLinks.available()) return planned;
    const body = message.text ?? headline(message.eventName, incident);
    return {
      ...planned,
      render: () => emailMessage(incident, [user.email], subject, body, this.router.linkTo(incident), this.ackLinks.ackUrl(incident.id, user.id, 'email')),
    };
  }
}

export const CONTACT_CHANNELS = Symbol('CONTACT_CHANNELS');
