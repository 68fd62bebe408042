import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, retry, SendOutcome, SlackMessageRef } from '../../notification';
import type { SlackMessage } from './slack.render';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { classifyFailure, exchange, HttpAnswer, HttpClient, retryAfterMs } from '../http-client';

/** Slack Web API errors worth another attempt (rate limits and Slack's own failures); every other `ok:false` is permanent. */
const RETRYABLE_API_ERRORS = new Set(['rate_limited', 'ratelimited', 'fatal_error', 'request_timeout', 'internal_error', 'service_unavailable']);

/**
 * Slack through a bot token (chat.postMessage / chat.update, which keeps each incident in one
 * thread and edits its first message on resolution) or, without a token, an incoming webhook
 * (bound to one channel, no threads).
 */
@Injectable()
export class SlackProvider implements ChannelProvider {
  readonly channel = 'slack' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
  ) {}

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    const { slack_bot_token, slack_webhook_url } = this.config.secrets;
    const problem = slack_bot_token || slack_webhook_url ? null : `neither environment variable ${n.slack_webhook_env} nor ${n.slack_bot_token_env} is set`;
    return { enabled: n.slack_enabled, configured: problem === null, problem };
  }

  async send(message: OutboundMessage): Promise<SendOutcome> {
    const { slack_bot_token, slack_webhook_url } = this.config.secrets;
    const body = JSON.parse(message.payload) as SlackMessage;
    if (slack_bot_token) return this.sendWithToken(slack_bot_token, message, body);
    if (slack_webhook_url) {
      return exchange(
        () => this.http.postJson(slack_webhook_url, body, { timeoutMs: this.timeoutMs() }),
        (answer) => (answer.status === 200 ? delivered() : classifyFailure(answer, 'Slack webhook')),
      );
    }
    return permanent(this.readiness().problem ?? 'Slack is not configured');
  }

  private async sendWithToken(token: string, message: OutboundMessage, body: SlackMessage): Promise<SendOutcome> {
    const anchor = message.anchor;
    if ((message.action === 'resolve_update' || message.action === 'status_update') && anchor) {
      const updated = await this.call(token, 'chat.update', { channel: anchor.channel, ts: anchor.ts, ...body });
      // A transient failure is tried again; if the message can no longer be edited (deleted,
      // too old), the reply in the thread still tells the channel.
      if (updated.kind === 'retry') return updated;
      return this.call(token, 'chat.postMessage', { channel: anchor.channel, thread_ts: anchor.ts, ...body });
    }
    if (anchor && message.action !== 'post') {
      return this.call(token, 'chat.postMessage', { channel: anchor.channel, thread_ts: anchor.ts, ...body });
    }
    return this.call(token, 'chat.postMessage', { channel: message.target, ...body });
  }

  private call(token: string, method: string, body: object): Promise<SendOutcome> {
    const url = `${this.config.notifications.slack_api_url.replace(/\/+$/, '')}/${method}`;
    return exchange(
      () => this.http.postJson(url, body, { timeoutMs: this.timeoutMs(), headers: { authorization: `Bearer ${token}` }, readSuccessBody: true }),
      (answer) => judgeApiAnswer(answer, method),
    );
  }

  private timeoutMs(): number {
    return this.config.notifications.delivery_timeout_secs * 1000;
  }
}

function judgeApiAnswer(answer: HttpAnswer, method: string): SendOutcome {
  if (answer.status !== 200) return classifyFailure(answer, `Slack ${method}`);
  let parsed: { ok?: boolean; error?: string; channel?: string; ts?: string };
  try {
    parsed = JSON.parse(answer.body) as typeof parsed;
  } catch {
    return retry(`Slack ${method} answered something that is not JSON`);
  }
  if (parsed.ok === true) {
    const ref: SlackMessageRef | undefined = parsed.channel && parsed.ts ? { channel: parsed.channel, ts: parsed.ts } : undefined;
    return delivered(ref);
  }
  const error = `Slack ${method} failed: ${parsed.error ?? 'unknown error'}`;
  return RETRYABLE_API_ERRORS.has(parsed.error ?? '') ? retry(error, retryAfterMs(answer.headers['retry-after'])) : permanent(error);
}
