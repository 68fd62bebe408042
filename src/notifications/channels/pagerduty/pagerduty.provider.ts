import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, SendOutcome } from '../../notification';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { classifyFailure, exchange, HttpClient } from '../http-client';
import { isHttpUrl } from '../webhook/webhook.provider';
import { RoutingService } from '../../../routing/routing.service';

/** PagerDuty Events API v2: 202 is success, 400 is never retried, 429 and 5xx are. */
@Injectable()
export class PagerDutyProvider implements ChannelProvider {
  readonly channel = 'pagerduty' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
    private readonly routing: RoutingService,
  ) {}

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    let problem: string | null = null;
    if (!this.config.secrets.pagerduty_integration_key) problem = `environment variable ${n.pagerduty_integration_key_env} is not set`;
    else if (!isHttpUrl(n.pagerduty_api_url)) problem = 'notifications.pagerduty_api_url is not an http(s) URL';
    return { enabled: n.pagerduty_enabled, configured: problem === null, problem };
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    // A custom notification carries its own service key; automatic ones use the configured one.
    // A custom page carries its own service key; a receiver's names its variable (env:NAME); the
    // default receiver's integration uses pagerduty_integration_key_env.
    const routingKey =
      message.target_ref ??
      (message.target.startsWith('env:') ? this.routing.pagerdutyKey(message.target.slice(4)) : this.config.secrets.pagerduty_integration_key);
    if (!routingKey) {
      const problem = message.target.startsWith('env:') ? `environment variable ${message.target.slice(4)} is not set` : this.readiness().problem;
      return Promise.resolve(permanent(problem ?? 'no routing key'));
    }
    const body = { routing_key: routingKey, ...(JSON.parse(message.payload) as object) };
    return exchange(
      () => this.http.postJson(this.config.notifications.pagerduty_api_url, body, { timeoutMs: this.config.notifications.delivery_timeout_secs * 1000 }),
      (answer) => (answer.status >= 200 && answer.status < 300 ? delivered() : classifyFailure(answer, 'PagerDuty')),
    );
  }
}
