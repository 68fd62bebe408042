import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, SendOutcome } from '../../notification';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { classifyFailure, exchange, HttpClient } from '../http-client';

/** POSTs the stored JSON payload (the guide's default body, or a custom one) to the target URL. */
@Injectable()
export class WebhookProvider implements ChannelProvider {
  readonly channel = 'webhook' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
  ) {}

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    const problem = n.webhook_enabled && !isHttpUrl(n.default_webhook_url) ? 'notifications.default_webhook_url is not an http(s) URL' : null;
    return { enabled: n.webhook_enabled, configured: problem === null, problem };
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    const url = message.target_ref ?? this.config.notifications.default_webhook_url;
    if (!isHttpUrl(url)) return Promise.resolve(permanent('the webhook URL is not an http(s) URL'));
    return exchange(
      () => this.http.postJson(url, message.payload, { timeoutMs: this.config.notifications.webhook_timeout_secs * 1000 }),
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
