import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, SendOutcome } from '../../notification';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { classifyFailure, exchange, HttpClient } from '../http-client';
import { signatureHeaders, signingKeys } from './webhook-signature';
import { RoutingService } from '../../../routing/routing.service';

/**
 * POSTs the stored JSON payload (the default body: event_type, timestamp, incident, notification_id; or a custom one) to the target URL,
 * signed per Standard Webhooks. A custom URL (from an API request) goes through the outbound
 * policy again at send time; the configured one is trusted.
 */
@Injectable()
export class WebhookProvider implements ChannelProvider {
  readonly channel = 'webhook' as const;
  private readonly keys: Buffer[];

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
    private readonly routing: RoutingService,
  ) {
    this.keys = signingKeys(config.secrets.webhook_signing_secrets);
  }

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    let problem: string | null = null;
    if (n.webhook_enabled && !isHttpUrl(n.default_webhook_url)) problem = 'notifications.default_webhook_url is not an http(s) URL';
    else if (n.webhook_enabled && this.keys.length === 0) problem = `environment variable ${n.webhook_signing_secrets_env} is not set`;
    return { enabled: n.webhook_enabled, configured: problem === null, problem };
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    const url = message.target_ref ?? this.config.notifications.default_webhook_url;
    if (!isHttpUrl(url)) return Promise.resolve(permanent('the webhook URL is not an http(s) URL'));
    // Left over from a run with the channel on: never send unsigned.
    if (this.keys.length === 0) return Promise.resolve(permanent(`environment variable ${this.config.notifications.webhook_signing_secrets_env} is not set`));
    return exchange(
      () =>
        this.http.postJson(url, message.payload, {
          timeoutMs: this.config.notifications.webhook_timeout_secs * 1000,
          // Wall-clock time: the receiver compares it with its own clock.
          headers: signatureHeaders(this.keys, message.id, Math.floor(Date.now() / 1000), message.payload),
          // A URL from an API request goes through the outbound policy; one from the configuration is trusted.
          guarded: message.target_ref !== null && !this.routing.isConfiguredWebhook(url),
        }),
      (answer) => (answer.status >= 200 && answer.status < 300 ? delivered() : classifyFailure(answer, 'webhook')),
    );
  }
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
