import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { Transactor } from '../../database/transactor';
import { IncidentsService } from '../../incidents/incidents.service';
import { EscalationService } from './escalation.service';
import { PhoneDeliveryRepository } from './phone-deliveries.repository';

/** How far back a reply may reach: a text answered the next morning still counts. */
export const REPLY_WINDOW_MS = 7 * 86_400_000;

/** Call outcomes Twilio reports in its status callback (CallStatus), and whether each means someone answered. */
const ANSWERED = new Set(['completed', 'in-progress']);
const UNANSWERED = new Set(['busy', 'no-answer', 'failed', 'canceled']);

export interface CallStatusOutcome {
  incident_id: string;
  answered: boolean;
}

/**
 * What comes back from a person's phone, as the notifications side knows it: which incidents were
 * texted or called to a number (a reply is matched against those only), how a call ended, and a
 * request to escalate.
 */
@Injectable()
export class PhoneReplies {
  constructor(
    private readonly phones: PhoneDeliveryRepository,
    private readonly transactor: Transactor,
    private readonly incidents: IncidentsService,
    private readonly escalation: EscalationService,
    private readonly clock: Clock,
  ) {}

  /** The incidents texted or called to `phone` within the reply window (a folded text names several). */
  incidentsPagedTo(phone: string): Promise<Set<string>> {
    return this.phones.incidentsToPhoneSince(phone, new Date(this.clock.now().getTime() - REPLY_WINDOW_MS).toISOString());
  }

  /** Whether the call delivery went to `phone` (a gather callback's number must be the called one). */
  async callTo(deliveryId: string): Promise<{ incident_id: string; target: string; created_at: string } | null> {
    return this.phones.callDelivery(deliveryId);
  }

  /**
   * Records how a call ended: answered by a person, or not (no answer, busy, failed, cancelled,
   * or a voicemail). An unanswered call fails its delivery, so the delivery log and the dead
   * letters show it; the person's later rules and the escalation go on, as nobody acknowledged.
   */
  async recordCallStatus(deliveryId: string, status: string, answeredBy: string | undefined): Promise<CallStatusOutcome | null> {
    const call = await this.phones.callDelivery(deliveryId);
    if (!call) return null;
    const machine = answeredBy !== undefined && /^(machine|fax)/.test(answeredBy);
    if (!ANSWERED.has(status) && !UNANSWERED.has(status)) return { incident_id: call.incident_id, answered: false };
    const answered = ANSWERED.has(status) && !machine;
    const now = this.clock.now().toISOString();
    const what = machine ? `answered by ${answeredBy}` : status;
    await this.transactor.run(async (tx) => {
      if (!answered) await this.phones.markCallUnanswered(tx, deliveryId, `call ${what}: counted as a failed attempt`, now);
      this.incidents.recordWithin(
        tx,
        call.incident_id,
        answered ? 'person_call_answered' : 'person_call_unanswered',
        'system',
        answered ? `The call to ${call.target} was answered` : `The call to ${call.target} was not answered (${what})`,
        { delivery_id: deliveryId, call_status: status, ...(answeredBy ? { answered_by: answeredBy } : {}) },
      );
      return Promise.resolve();
    });
    return { incident_id: call.incident_id, answered };
  }

  escalateNow(incidentId: string, actor: string, via: string): Promise<boolean> {
    return this.escalation.escalateNow(incidentId, actor, via);
  }
}
