import { Inject, Injectable, Logger } from '@nestjs/common';
import { Kysely } from 'kysely';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { LinkClaims, MAX_TOKEN_LENGTH, verifyLink } from '../../common/signed-link';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import type { Database } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import type { Incident } from '../../incidents/domain/incident';
import { IncidentsService } from '../../incidents/incidents.service';
import { PeopleService } from '../../people/people.service';
import type { User } from '../../people/person';
import { InboundReceipts } from '../inbound-receipts';

/**
 * How long a used link's receipt is kept beyond the link's lifetime: covers clocks of several
 * instances that disagree. A link whose expiry lies further ahead than the lifetime the
 * configuration gives now (plus this) counts as expired, so no link outlives its receipt.
 */
const RECEIPT_MARGIN_SECS = 3600;

/** What a link answered, for the page (or the JSON) the controller renders. */
export type AckOutcome =
  /** GET: the incident and who the link acts for; `open`: it can still be acknowledged (the page shows the button). */
  | { kind: 'confirm'; status: 200; incident: Incident; user: User; via: string; open: boolean }
  /** POST: acknowledged as the link's user now. */
  | { kind: 'acknowledged'; status: 200; incident: Incident; user: User; via: string }
  /** POST: nothing to do (someone else acknowledged first, or the incident is resolved or closed); the link is used up. */
  | { kind: 'moot'; status: 200; incident: Incident; user: User; via: string }
  | { kind: 'refused'; status: 401 | 403 | 404 | 410; reason: RefusalReason; incident_id: string | null };

export type RefusalReason = 'malformed' | 'forged' | 'expired' | 'used' | 'user_inactive' | 'unknown_user' | 'unknown_incident' | 'off';

/**
 * One-click acknowledgement from an email or a push notification, without an API key: the token
 * in the path is signed (server.link_secret_env), names the incident, the user and the channel
 * that carried it, expires (server.ack_link_ttl_secs) and counts once. A GET only shows what the
 * link would do (mail scanners follow links); a POST acknowledges as the user.
 */
@Injectable()
export class AckLinksService {
  private readonly logger = new Logger('AckLinks');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    private readonly receipts: InboundReceipts,
    private readonly incidents: IncidentsService,
    private readonly people: PeopleService,
    private readonly clock: Clock,
  ) {}

  /** GET: what the link would do, changing nothing. */
  async look(token: string): Promise<AckOutcome> {
    const checked = await this.check(token, 'look');
    if ('refused' in checked) return checked.refused;
    const { claims, user, incident } = checked;
    if (await this.used(claims.nonce)) return this.refuse('used', 410, claims);
    const open = incident.acknowledged_at === null && incident.state !== 'Resolved' && incident.state !== 'Closed';
    return { kind: 'confirm', status: 200, incident, user, via: claims.via, open };
  }

  /** POST: takes the link (once) and acknowledges the incident as its user. */
  async acknowledge(token: string): Promise<AckOutcome> {
    const checked = await this.check(token, 'act');
    if ('refused' in checked) return checked.refused;
    const { claims, user } = checked;
    // Kept as long as the link could still be presented, so a replay finds it.
    const keepMs = (this.config.server.ack_link_ttl_secs + RECEIPT_MARGIN_SECS) * 1000;
    if (!(await this.receipts.first('ack_link', claims.nonce, this.clock.now(), keepMs))) return this.refuse('used', 410, claims);
    try {
      const incident = await this.incidents.acknowledge(claims.incident_id, user.name, noteFor(claims.via));
      this.logger.log({ msg: 'Acknowledged through a link', incident_id: incident.id, user_id: user.id, via: claims.via });
      return { kind: 'acknowledged', status: 200, incident, user, via: claims.via };
    } catch (err) {
      // Someone was quicker, or the incident has moved on: the link did its job, nothing to change.
      if (err instanceof DomainError && (err.code === ErrorCode.ALREADY_ACKNOWLEDGED || err.code === ErrorCode.INVALID_TRANSITION)) {
        const incident = await this.incidents.get(claims.incident_id);
        return { kind: 'moot', status: 200, incident, user, via: claims.via };
      }
      if (err instanceof DomainError && err.code === ErrorCode.INCIDENT_NOT_FOUND) return this.refuse('unknown_incident', 404, claims);
      // Not applied for a fault here (the store went away): the link stays usable for another try.
      await this.receipts.forget('ack_link', claims.nonce);
      throw err;
    }
  }

  /**
   * The token's signature and expiry, then its user (still active) and incident. A token this
   * service did not sign answers 404 to a GET (there is nothing at this address) and 401 to a
   * POST (it tried to act without a valid credential); an expired or used one 410.
   */
  private async check(token: string, purpose: 'look' | 'act'): Promise<{ refused: AckOutcome } | { claims: LinkClaims; user: User; incident: Incident }> {
    // Far too long: refused before any decoding or hashing.
    if (token.length > MAX_TOKEN_LENGTH) return { refused: this.refuse('malformed', 404) };
    const key = this.config.secrets.link_secret;
    if (!key || key.length < 32) return { refused: this.refuse('off', 404) };
    const now = this.clock.now().getTime();
    const verdict = verifyLink(key, token, now);
    if (!verdict.ok) {
      if (verdict.reason === 'malformed') return { refused: this.refuse('malformed', 404) };
      if (verdict.reason === 'signature') return { refused: this.refuse('forged', purpose === 'act' ? 401 : 404) };
      return { refused: this.refuse('expired', 410, verdict.claims) };
    }
    const claims = verdict.claims;
    // Made under a longer lifetime than the configuration gives now: its receipt would not be kept that long.
    if (claims.expires * 1000 - now > (this.config.server.ack_link_ttl_secs + RECEIPT_MARGIN_SECS) * 1000) {
      return { refused: this.refuse('expired', 410, claims) };
    }
    const user = await this.people.findUser(claims.user_id);
    if (!user) return { refused: this.refuse('unknown_user', 404, claims) };
    if (!user.active) return { refused: this.refuse('user_inactive', 403, claims) };
    try {
      return { claims, user, incident: await this.incidents.get(claims.incident_id) };
    } catch (err) {
      if (err instanceof DomainError && err.code === ErrorCode.INCIDENT_NOT_FOUND) return { refused: this.refuse('unknown_incident', 404, claims) };
      throw err;
    }
  }

  private async used(nonce: string): Promise<boolean> {
    const row = await this.db.selectFrom('inbound_receipts').select('id').where('source', '=', 'ack_link').where('id', '=', nonce).executeTakeFirst();
    return row !== undefined;
  }

  private refuse(reason: RefusalReason, status: 401 | 403 | 404 | 410, claims?: LinkClaims): AckOutcome {
    // Never the token: it is the credential.
    this.logger.warn({ msg: 'Acknowledgement link refused', reason, incident_id: claims?.incident_id, user_id: claims?.user_id, via: claims?.via });
    return { kind: 'refused', status, reason, incident_id: claims?.incident_id ?? null };
  }
}

/** The note on the timeline's `acknowledged` entry: which link it came through. */
export function noteFor(via: string): string {
  if (via === 'email') return 'from the email link';
  if (via === 'ntfy') return 'from ntfy';
  return `from a ${via} link`;
}
