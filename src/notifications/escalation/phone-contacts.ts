import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import type { Tx } from '../../database/transactor';
import type { Incident } from '../../incidents/domain/incident';
import type { ContactMethod, User } from '../../people/person';
import { digestBody, smsBody, SmsPayload, voiceTwiml, VoicePayload } from '../channels/twilio/twilio.render';
import type { NewDeliveryRow } from '../delivery.repository';
import { NotificationRouter, PlannedDelivery } from '../notification-router';
import type { ContactChannel, PersonMessage } from './contact-channels';
import { PhoneDeliveryRepository } from './phone-deliveries.repository';

/** Incidents a folded text keeps by name (the most severe); the rest are counted. */
const DIGEST_ITEMS = 10;
/** The event of a folded text: several incidents in one message. */
export const DIGEST_EVENT = 'incident.digest';
/** Seconds a called phone rings before the call counts as unanswered (Twilio's Timeout). */
const RING_SECS = 30;

/** A short word before the title, when the message is not the incident's first. */
function leadOf(message: PersonMessage): string | undefined {
  if (message.eventName === 'incident.reminder') return 'Still open';
  if (message.eventName.includes('escalat')) return 'Escalated';
  return undefined;
}

function publicBase(config: AppConfig): string {
  return config.server.public_url.replace(/\/+$/, '');
}

/**
 * A text to the user's phone. Texts to one phone within notifications.sms_fold_window_secs of the
 * last are folded: one text waits for the window's end and tells of every incident that arrived
 * meanwhile ("3 new incidents: …"), so a storm does not send hundreds of texts to one person.
 */
@Injectable()
export class SmsContact implements ContactChannel {
  readonly method = 'sms' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly router: NotificationRouter,
    private readonly phones: PhoneDeliveryRepository,
  ) {}

  unusable(user: User): string | null {
    if (!user.phone) return 'no phone number';
    if (!this.config.notifications.sms_enabled) return 'texts are off (notifications.sms_enabled)';
    return null;
  }

  plan(incident: Incident, user: User, message: PersonMessage): PlannedDelivery {
    const n = this.config.notifications;
    const payload: SmsPayload = {
      To: user.phone!,
      From: n.twilio_from_number,
      Body: smsBody(incident, this.words(), this.router.linkTo(incident), leadOf(message)),
      incidents: [incident.id],
    };
    return { channel: 'sms', action: 'send', target: user.phone!, render: () => payload };
  }

  /**
   * Folds this text into one already waiting for the phone, or writes that waiting text when
   * one went out within the window. Answers the delivery that carries it, or null when the
   * text goes on its own (nothing sent to the phone within the window).
   */
  async foldWithin(tx: Tx, incident: Incident, user: User, at: string, route: { route: string; receiver: string }): Promise<string | null> {
    const windowMs = this.config.notifications.sms_fold_window_secs * 1000;
    const phone = user.phone!;
    if (windowMs === 0) return null;
    // Rows this transaction has written but not yet inserted (a batch of alerts) count first.
    const waiting = (tx.deferred('notification_deliveries') as unknown as NewDeliveryRow[]).filter(
      (r) => r.channel === 'sms' && r.target === phone && r.status !== 'suppressed' && r.status !== 'cancelled',
    );
    const digestHere = waiting.find((r) => r.action === 'digest');
    if (digestHere) {
      digestHere.payload = this.withIncident(digestHere.payload, incident);
      return digestHere.id;
    }
    const pending = await this.phones.pendingDigest(tx, phone, at);
    if (pending && (await this.phones.rewritePayload(tx, pending.id, this.withIncident(pending.payload, incident), at))) return pending.id;
    const since = new Date(Date.parse(at) - windowMs).toISOString();
    const last =
      waiting.length > 0
        ? waiting
            .map((r) => r.created_at)
            .sort()
            .at(-1)!
        : await this.phones.lastTextSince(tx, phone, since, windowMs);
    if (!last) return null;
    const payload: SmsPayload & { items: DigestItem[] } = { To: phone, From: this.config.notifications.twilio_from_number, Body: '', incidents: [], items: [] };
    const planned: PlannedDelivery = {
      channel: 'sms',
      action: 'digest',
      target: phone,
      render: () => JSON.parse(this.withIncident(JSON.stringify(payload), incident)) as unknown,
      route: route.route,
      receiver: route.receiver,
    };
    const [row] = this.router.write(tx, incident, DIGEST_EVENT, at, [planned], { first: true });
    // Due when the window since the last text ends; the row is still waiting to be inserted, so
    // setting it here is what gets written.
    row.next_attempt_at = new Date(Date.parse(last) + windowMs).toISOString();
    return row.id;
  }

  /**
   * Adds an incident to a folded text. It keeps the most severe DIGEST_ITEMS (a text shows a
   * few; their codes are what a reply can name) and counts the rest, so that a storm of
   * thousands rewrites a small payload each time, not a growing one.
   */
  private withIncident(stored: string, incident: Incident): string {
    const payload = JSON.parse(stored) as SmsPayload & { items?: DigestItem[]; total?: number };
    const items = payload.items ?? [];
    if (items.some((i) => i.id === incident.id)) return stored;
    items.push({ id: incident.id, severity: incident.severity, title: incident.title.slice(0, 100) });
    // Stable: among equal severities, the earliest first.
    const kept = items.map((item, order) => ({ item, order })).sort((a, b) => a.item.severity.localeCompare(b.item.severity) || a.order - b.order);
    const shown = kept.slice(0, DIGEST_ITEMS).map((k) => k.item);
    const total = (payload.total ?? items.length - 1) + 1;
    return JSON.stringify({ ...payload, items: shown, total, incidents: shown.map((i) => i.id), Body: digestBody(shown, total, this.words()) });
  }

  private words(): { ack: string; resolve: string } {
    const n = this.config.notifications;
    return { ack: n.sms_ack_words[0].toUpperCase(), resolve: n.sms_resolve_words[0].toUpperCase() };
  }
}

interface DigestItem {
  id: string;
  severity: Incident['severity'];
  title: string;
}

/**
 * A call to the user's phone: Twilio reads the incident and takes one key (1 acknowledges, 2
 * escalates); its status callback records whether the call was answered, and an unanswered call
 * (no answer, busy, failed, or a voicemail) fails the delivery. In a storm, a live call about
 * another incident carries this one when the same notification texts the phone (see foldWithin).
 */
@Injectable()
export class VoiceContact implements ContactChannel {
  readonly method = 'voice' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly phones: PhoneDeliveryRepository,
  ) {}

  /**
   * A call to the phone about another incident, written within the window and not failed,
   * carries this one when the same notification also texts the phone (the text tells of this
   * incident): answers its id. A call about the same incident (a rule that calls again), or one
   * whose notification sends no text, is always placed.
   */
  async foldWithin(tx: Tx, incident: Incident, user: User, at: string, origin: { methods: readonly ContactMethod[] }): Promise<string | null> {
    const windowMs = this.config.notifications.sms_fold_window_secs * 1000;
    if (windowMs === 0 || !origin.methods.includes('sms') || !this.config.notifications.sms_enabled) return null;
    const waiting = (tx.deferred('notification_deliveries') as unknown as NewDeliveryRow[]).find(
      (r) => r.channel === 'voice' && r.target === user.phone && r.incident_id !== incident.id && !['suppressed', 'cancelled', 'failed'].includes(r.status),
    );
    return waiting?.id ?? (await this.phones.lastCallSince(tx, user.phone!, incident.id, new Date(Date.parse(at) - windowMs).toISOString()));
  }

  unusable(user: User): string | null {
    if (!user.phone) return 'no phone number';
    if (!this.config.notifications.voice_enabled) return 'calls are off (notifications.voice_enabled)';
    return null;
  }

  plan(incident: Incident, user: User, message: PersonMessage): PlannedDelivery {
    const base = publicBase(this.config);
    return {
      channel: 'voice',
      action: 'call',
      target: user.phone!,
      render: (id): VoicePayload => ({
        To: user.phone!,
        From: this.config.notifications.twilio_from_number,
        Twiml: voiceTwiml(incident, `${base}/v1/integrations/twilio/voice/gather?delivery=${id}&user=${user.id}&incident=${incident.id}`, leadOf(message)),
        StatusCallback: `${base}/v1/integrations/twilio/voice/status?delivery=${id}`,
        Timeout: String(RING_SECS),
        MachineDetection: 'Enable',
        incidents: [incident.id],
      }),
    };
  }
}
