import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { signLink } from '../../common/signed-link';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';

/**
 * Acknowledgement links put in what a person is sent (an email, a push notification): one click
 * acknowledges the incident as that person. Signed with server.link_secret_env, valid for
 * server.ack_link_ttl_secs, and taken once (GET /v1/ack/{token} shows what it does; only a POST
 * acknowledges, since mail scanners follow links).
 */
@Injectable()
export class AckLinks {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Whether links can be made: a public URL to point at and a key to sign with. */
  available(): boolean {
    return this.config.server.public_url !== '' && (this.config.secrets.link_secret?.length ?? 0) >= 32;
  }

  /** The link that acknowledges `incidentId` as `userId`, or undefined when links cannot be made. */
  ackUrl(incidentId: string, userId: string, via: string): string | undefined {
    if (!this.available()) return undefined;
    const expires = Math.floor(this.clock.now().getTime() / 1000) + this.config.server.ack_link_ttl_secs;
    const token = signLink(this.config.secrets.link_secret!, { action: 'ack', incident_id: incidentId, user_id: userId, via, expires });
    return `${this.config.server.public_url.replace(/\/+$/, '')}/v1/ack/${token}`;
  }
}

const ACK_TOKEN_IN_URL = /\/v1\/ack\/l1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/g;

/**
 * A stored payload as the delivery log shows it: an acknowledgement link acts as its person, so a
 * reader of the log (incidents:read) sees where it points but never its token.
 */
export function hideAckTokens(payload: string): string {
  return payload.includes('/v1/ack/') ? payload.replace(ACK_TOKEN_IN_URL, '/v1/ack/(token hidden)') : payload;
}
