import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Kysely } from 'kysely';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode, ValidationFailed } from '../../common/domain-error';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import type { Database } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import { IncidentsService } from '../../incidents/incidents.service';
import { PeopleService } from '../../people/people.service';
import { SLACK_ACTIONS } from '../../notifications/channels/slack/slack.render';

/** Slack refuses older requests itself, and asks receivers to do the same (replays). */
export const SLACK_MAX_AGE_SECS = 300;

export interface SlackInteractionOutcome {
  action: string;
  incident_id: string;
  applied: boolean;
  text: string;
}

/**
 * Button clicks from Slack messages (block_actions), applied as the Slack user who clicked.
 * Every request is verified the way Slack signs it: HMAC-SHA256 of `v0:<timestamp>:<body>` with
 * the app's signing secret, a timestamp no older than 5 minutes, and a signature not seen before.
 */
@Injectable()
export class SlackInteractionsService {
  private readonly logger = new Logger('SlackInteractions');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    private readonly incidents: IncidentsService,
    private readonly people: PeopleService,
    private readonly clock: Clock,
  ) {}

  async handle(raw: string | undefined, timestamp: string | undefined, signature: string | undefined): Promise<SlackInteractionOutcome> {
    this.assertConfigured();
    if (typeof raw !== 'string') {
      throw new ValidationFailed([{ field: 'body', message: 'expected application/x-www-form-urlencoded with a payload field, as Slack sends it' }]);
    }
    await this.verify(raw, timestamp, signature);
    const payload = this.payloadOf(raw);
    const action = payload.actions[0];
    // A person the service knows by their Slack id (a direct message, or a channel post they
    // clicked) acts under their own name, as from every other channel; anyone else as slack:<name>.
    const person = await this.people.activeUserBySlackId(payload.user.id);
    const who = person?.name ?? (payload.user.username || payload.user.name || payload.user.id);
    const actor = person ? person.name : `slack:${who}`;
    try {
      if (action.action_id === SLACK_ACTIONS.acknowledge) {
        await this.incidents.acknowledge(action.value, actor, 'from Slack');
      } else {
        await this.incidents.resolve(action.value, { resolved_by: actor, method: 'Manual', notes: `Resolved from Slack by ${who}`, root_cause: null });
      }
      return {
        action: action.action_id,
        incident_id: action.value,
        applied: true,
        text: `${action.action_id === SLACK_ACTIONS.acknowledge ? 'Acknowledged' : 'Resolved'} by ${who}`,
      };
    } catch (err) {
      // Two people clicking at once, or a button on an old message: Slack wants a 200 either way.
      if (!(err instanceof DomainError) || err.code === ErrorCode.VALIDATION_FAILED) throw err;
      this.logger.log({ msg: 'Slack action not applied', action: action.action_id, incident_id: action.value, code: err.code, user: who });
      return { action: action.action_id, incident_id: action.value, applied: false, text: err.message };
    }
  }

  private assertConfigured(): void {
    if (!this.config.secrets.slack_signing_secret) {
      throw new DomainError(
        ErrorCode.NOT_CONFIGURED,
        `Slack interactivity is off: the environment variable ${this.config.notifications.slack_signing_secret_env} is not set`,
      );
    }
  }

  private async verify(raw: string, timestamp: string | undefined, signature: string | undefined): Promise<void> {
    const secret = this.config.secrets.slack_signing_secret!;
    const refuse = (reason: string): never => {
      this.logger.warn({ msg: 'Slack interaction refused', reason });
      throw new DomainError(ErrorCode.UNAUTHENTICATED, `Slack request refused: ${reason}`, { reason });
    };
    if (!timestamp || !/^\d{1,12}$/.test(timestamp)) refuse('missing or malformed x-slack-request-timestamp');
    const nowSecs = Math.floor(this.clock.now().getTime() / 1000);
    if (Math.abs(nowSecs - Number(timestamp)) > SLACK_MAX_AGE_SECS) refuse('the request timestamp is more than 5 minutes from now');
    if (!signature || !/^v0=[0-9a-f]{64}$/.test(signature)) refuse('missing or malformed x-slack-signature');
    const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${raw}`).digest('hex')}`);
    if (!timingSafeEqual(expected, Buffer.from(signature!))) refuse('the signature does not match the body');
    // Seen before within its 5 minutes: a replay. The receipt is kept twice as long as a request may be valid.
    const now = this.clock.now().toISOString();
    await this.db
      .deleteFrom('slack_interaction_receipts')
      .where('received_at', '<', new Date(Date.parse(now) - 2 * SLACK_MAX_AGE_SECS * 1000).toISOString())
      .execute();
    const inserted = await this.db
      .insertInto('slack_interaction_receipts')
      .values({ signature: signature!, received_at: now })
      .onConflict((oc) => oc.column('signature').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) refuse('this request was already received (replay)');
  }

  private payloadOf(raw: string): { actions: { action_id: string; value: string }[]; user: { id: string; username?: string; name?: string } } {
    const text = new URLSearchParams(raw).get('payload');
    let payload: unknown;
    try {
      payload = JSON.parse(text ?? '');
    } catch {
      throw new ValidationFailed([{ field: 'payload', message: 'expected the form field payload holding JSON' }]);
    }
    const p = payload as { type?: unknown; actions?: unknown; user?: { id?: unknown; username?: unknown; name?: unknown } };
    if (p?.type !== 'block_actions') throw new ValidationFailed([{ field: 'payload.type', message: 'only block_actions (button clicks) are handled' }]);
    const actions = Array.isArray(p.actions) ? (p.actions as { action_id?: unknown; value?: unknown }[]) : [];
    const action = actions[0];
    const known: string[] = Object.values(SLACK_ACTIONS);
    if (!action || typeof action.action_id !== 'string' || !known.includes(action.action_id)) {
      throw new ValidationFailed([{ field: 'payload.actions[0].action_id', message: `must be one of ${known.join(', ')}` }]);
    }
    if (typeof action.value !== 'string' || !/^[0-9a-f-]{36}$/i.test(action.value)) {
      throw new ValidationFailed([{ field: 'payload.actions[0].value', message: 'must be an incident id' }]);
    }
    if (typeof p.user?.id !== 'string') throw new ValidationFailed([{ field: 'payload.user.id', message: 'is required' }]);
    return {
      actions: [{ action_id: action.action_id, value: action.value }],
      user: {
        id: p.user.id,
        username: typeof p.user.username === 'string' ? p.user.username : undefined,
        name: typeof p.user.name === 'string' ? p.user.name : undefined,
      },
    };
  }
}
