import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode, ValidationFailed } from '../../common/domain-error';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import { incidentCode } from '../../incidents/domain/short-code';
import { IncidentsService } from '../../incidents/incidents.service';
import { messageReply, spokenReply, EMPTY_TWIML } from '../../notifications/channels/twilio/twilio.render';
import { PhoneReplies, REPLY_WINDOW_MS } from '../../notifications/escalation/phone-replies.service';
import { PeopleService } from '../../people/people.service';
import { InboundReceipts, ReceiptSource } from '../inbound-receipts';
import { twilioSignatureMatches } from './twilio-signature';

/** A verified callback: its form fields. */
type Fields = URLSearchParams;

/** Where the call's key press comes back: the delivery that called, the person called, the incident read out. */
export interface GatherQuery {
  delivery: string;
  user: string;
  incident: string;
}

/**
 * Twilio's callbacks: replies to texts ("ACK 4821"), the key pressed during a call, and how a
 * call ended. Each is verified by X-Twilio-Signature (HMAC-SHA1 under the auth token over the
 * URL Twilio called, which is server.public_url and the path, and the sorted form fields), must
 * come from the configured account, and counts once (its MessageSid or CallSid).
 */
@Injectable()
export class TwilioCallbacksService {
  private readonly logger = new Logger('TwilioCallbacks');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly incidents: IncidentsService,
    private readonly people: PeopleService,
    private readonly replies: PhoneReplies,
    private readonly receipts: InboundReceipts,
    private readonly clock: Clock,
  ) {}

  /** A text from a person's phone: `ACK 4821` acknowledges, `RES 4821` resolves; answered with a text. */
  async textReceived(raw: string | undefined, path: string, signature: string | undefined): Promise<string> {
    const fields = this.verified(raw, path, signature, this.config.notifications.sms_enabled, 'texts');
    const sid = this.required(fields, 'MessageSid');
    const from = this.required(fields, 'From');
    await this.once('twilio_sms', sid);
    return this.orForget('twilio_sms', sid, () => this.reply(fields, sid, from));
  }

  private async reply(fields: Fields, sid: string, from: string): Promise<string> {
    const users = await this.people.activeUsersByPhone(from);
    if (users.length === 0) {
      // No text back, whatever it said: a reply costs money, and this number is nobody's here.
      this.logger.warn({ msg: 'text reply refused: the number is no active user’s', message_sid: sid });
      return EMPTY_TWIML;
    }
    const n = this.config.notifications;
    const ack = n.sms_ack_words.map((w) => w.toUpperCase());
    const res = n.sms_resolve_words.map((w) => w.toUpperCase());
    const help = `Reply ${ack[0]} <code> to acknowledge or ${res[0]} <code> to resolve.`;
    const match = /^\s*([A-Za-z]{1,16})\s*#?\s*(\d{4})\s*[.!]?\s*$/.exec(fields.get('Body') ?? '');
    const word = match?.[1].toUpperCase();
    if (!match || (!ack.includes(word!) && !res.includes(word!))) return messageReply(`Not understood. ${help}`);
    const code = match[2];
    let paged = [...(await this.replies.incidentsPagedTo(from))].filter((id) => incidentCode(id) === code);
    // Two share the code (four digits): the one still open is meant.
    if (paged.length > 1) paged = (await Promise.all(paged.map(async (id) => ((await this.incidents.isOpen(id)) ? [id] : [])))).flat();
    if (paged.length === 0) {
      this.logger.warn({ msg: 'text reply refused: no incident with that code was sent to the number', message_sid: sid, code });
      return messageReply(`Refused: no incident #${code} was sent to this phone in the last ${REPLY_WINDOW_MS / 86_400_000} days. Nothing was changed.`);
    }
    if (paged.length > 1) return messageReply(`Two incidents sent to this phone share #${code}: act on them in the console.`);
    const user = users[0];
    const id = paged[0];
    try {
      if (ack.includes(word!)) {
        await this.incidents.acknowledge(id, user.name, 'by a text reply');
        return messageReply(`Acknowledged #${code}. Thank you, ${user.name}.`);
      }
      await this.incidents.resolve(id, { resolved_by: user.name, method: 'Manual', notes: `Resolved by ${user.name} with a text reply`, root_cause: null });
      return messageReply(`Resolved #${code}.`);
    } catch (err) {
      if (!(err instanceof DomainError) || err.code === ErrorCode.VALIDATION_FAILED) throw err;
      // Someone else was first, or the incident moved on: the person hears so.
      return messageReply(`#${code} not changed: ${err.message}`);
    }
  }

  /** The key pressed during a call: 1 acknowledges, 2 escalates now. Answered with what Twilio reads out. */
  async keyPressed(raw: string | undefined, path: string, signature: string | undefined, query: GatherQuery): Promise<string> {
    const fields = this.verified(raw, path, signature, this.config.notifications.voice_enabled, 'calls');
    const callSid = this.required(fields, 'CallSid');
    const call = await this.replies.callTo(query.delivery);
    // The URL is ours and signed by Twilio; still, the call must be the one this delivery made, to this person's phone.
    if (!call || call.incident_id !== query.incident || fields.get('To') !== call.target) {
      throw this.refused('the call does not match the delivery it names');
    }
    // Twilio's signature has no time: a callback for a call older than the receipts are kept is a replay.
    if (Date.parse(call.created_at) < this.clock.now().getTime() - REPLY_WINDOW_MS) throw this.refused('the call is too old');
    await this.once('twilio_gather', callSid);
    return this.orForget('twilio_gather', callSid, () => this.key(fields, call, query));
  }

  private async key(fields: Fields, call: { incident_id: string; target: string }, query: GatherQuery): Promise<string> {
    const user = await this.people.findUser(query.user);
    if (!user?.active || user.phone !== call.target) throw this.refused('the person called is not an active user with that phone');
    const digits = fields.get('Digits') ?? '';
    try {
      if (digits === '1') {
        await this.incidents.acknowledge(call.incident_id, user.name, 'by a key pressed on a call');
        return spokenReply('Acknowledged. Thank you. Goodbye.');
      }
      if (digits === '2') {
        const moved = await this.replies.escalateNow(call.incident_id, user.name, 'a key pressed on a call');
        return spokenReply(moved ? 'Escalating now. Goodbye.' : 'There is no further escalation step. The incident is still not acknowledged. Goodbye.');
      }
    } catch (err) {
      if (!(err instanceof DomainError) || err.code === ErrorCode.VALIDATION_FAILED) throw err;
      return spokenReply(`Nothing was changed: ${err.message}. Goodbye.`);
    }
    return spokenReply('That key does nothing. The incident is not acknowledged. Goodbye.');
  }

  /** How a call ended (Twilio's status callback). */
  async callEnded(raw: string | undefined, path: string, signature: string | undefined, deliveryId: string): Promise<string> {
    const fields = this.verified(raw, path, signature, this.config.notifications.voice_enabled, 'calls');
    const callSid = this.required(fields, 'CallSid');
    const status = this.required(fields, 'CallStatus');
    const call = await this.replies.callTo(deliveryId);
    if (!call || fields.get('To') !== call.target) throw this.refused('the call does not match the delivery it names');
    if (Date.parse(call.created_at) < this.clock.now().getTime() - REPLY_WINDOW_MS) throw this.refused('the call is too old');
    await this.once('twilio_status', `${callSid}:${status}`);
    await this.orForget('twilio_status', `${callSid}:${status}`, () =>
      this.replies.recordCallStatus(deliveryId, status, fields.get('AnsweredBy') ?? undefined),
    );
    return EMPTY_TWIML;
  }

  /** Runs what a callback asks; a fault here (not a refusal) drops its receipt, so Twilio's retry is not taken for a replay. */
  private async orForget<T>(source: ReceiptSource, id: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const fault = !(err instanceof DomainError) || err.code === ErrorCode.STORE_UNAVAILABLE || err.code === ErrorCode.STORE_FULL;
      if (fault) await this.receipts.forget(source, id);
      throw err;
    }
  }

  private verified(raw: string | undefined, path: string, signature: string | undefined, enabled: boolean, what: string): Fields {
    const token = this.config.secrets.twilio_auth_token;
    if (!enabled || !token || !this.config.server.public_url) {
      throw new DomainError(
        ErrorCode.NOT_CONFIGURED,
        `Twilio ${what} are off: notifications.${what === 'texts' ? 'sms' : 'voice'}_enabled, the auth token and server.public_url are needed`,
      );
    }
    if (raw !== undefined && typeof raw !== 'string') {
      throw new ValidationFailed([{ field: 'body', message: 'expected application/x-www-form-urlencoded, as Twilio sends it' }]);
    }
    const fields = new URLSearchParams(raw ?? '');
    // The URL Twilio called: the public URL (a proxy in front may strip its path) and the path with its query.
    const url = `${this.config.server.public_url.replace(/\/+$/, '')}${path}`;
    if (!twilioSignatureMatches(token, url, fields, signature)) throw this.refused('the X-Twilio-Signature does not match the URL and the form fields');
    if (fields.get('AccountSid') !== this.config.notifications.twilio_account_sid) throw this.refused('the request is for another Twilio account');
    return fields;
  }

  private required(fields: Fields, name: string): string {
    const value = fields.get(name);
    if (!value || value.length > 64) throw new ValidationFailed([{ field: name, message: `${name} is required, as Twilio sends it` }]);
    return value;
  }

  private async once(source: ReceiptSource, id: string): Promise<void> {
    if (!(await this.receipts.first(source, id, this.clock.now(), REPLY_WINDOW_MS))) throw this.refused('this callback was already received (replay)');
  }

  private refused(reason: string): DomainError {
    this.logger.warn({ msg: 'Twilio callback refused', reason });
    return new DomainError(ErrorCode.UNAUTHENTICATED, `Twilio request refused: ${reason}`, { reason });
  }
}
