import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { RoutingService } from '../../../routing/routing.service';
import { delivered, OutboundMessage, permanent, SendOutcome } from '../../notification';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { classifyFailure, exchange, HttpAnswer, HttpClient } from '../http-client';
import { isHttpUrl } from '../webhook/webhook.provider';

/**
 * Microsoft Teams through a Workflows webhook ("Send webhook alerts to a channel"): POSTs the
 * stored message (an Adaptive Card) to the target's URL. The URL carries its own signature, so
 * it is a secret: the delivery's target is `default` (notifications.teams_webhook_env) or
 * `env:<VARIABLE>` (a receiver's), and the URL is read from there when sent. 2xx (Workflows
 * answers 202 Accepted) is success; 408, 429 (Retry-After honoured) and 5xx retry; any other
 * answer is permanent, with Teams' error in the message.
 */
@Injectable()
export class TeamsProvider implements ChannelProvider {
  readonly channel = 'teams' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
    private readonly routing: RoutingService,
  ) {}

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    const url = this.config.secrets.teams_webhook_url;
    let problem: string | null = null;
    if (!url) problem = `environment variable ${n.teams_webhook_env} is not set`;
    else if (!isHttpUrl(url)) problem = `environment variable ${n.teams_webhook_env} does not hold an http(s) URL`;
    return { enabled: n.teams_enabled, configured: problem === null, problem };
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    // A receiver's webhook names its variable (env:NAME), read at the last (re)load; the default receiver's is teams_webhook_env.
    const variable = message.target.startsWith('env:') ? message.target.slice(4) : this.config.notifications.teams_webhook_env;
    const url = message.target.startsWith('env:') ? this.routing.routing.teams_urls.get(variable) : this.config.secrets.teams_webhook_url;
    if (!url) return Promise.resolve(permanent(`environment variable ${variable} is not set`));
    if (!isHttpUrl(url)) return Promise.resolve(permanent(`environment variable ${variable} does not hold an http(s) URL`));
    return exchange(
      () => this.http.postJson(url, message.payload, { timeoutMs: this.config.notifications.delivery_timeout_secs * 1000 }),
      (answer) => (answer.status >= 200 && answer.status < 300 ? delivered() : classifyFailure({ ...answer, body: teamsError(answer.body) }, 'Teams')),
    );
  }
}

/**
 * The error in an answer: Workflows (Power Automate, Logic Apps) answers `{"error": {"code",
 * "message"}}`; anything else is shown as it came (classifyFailure keeps its start).
 */
export function teamsError(body: HttpAnswer['body']): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = parsed.error ?? {};
    const parts = [code, message].filter((part): part is string => typeof part === 'string' && part !== '');
    if (parts.length > 0) return parts.join(': ');
  } catch {
    // not JSON: the text itself
  }
  return body.trim();
}
