import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, retry, SendOutcome } from '../../notification';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { exchange, HttpAnswer, HttpClient, retryAfterMs } from '../http-client';
import { isHttpUrl } from '../webhook/webhook.provider';

/**
 * ntfy: the stored message (ntfy.render.ts) is published as JSON to the server's root URL, with
 * the access token from ntfy_token_env as a Bearer token when one is set. 2xx is delivered; 408,
 * 429 and 5xx (and no answer) retry, honouring Retry-After; any other status is permanent, with
 * ntfy's own error (`{code, http, error}`) in the delivery's last error.
 */
@Injectable()
export class NtfyProvider implements ChannelProvider {
  readonly channel = 'ntfy' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
  ) {}

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    const problem = isHttpUrl(n.ntfy_server_url) ? null : 'notifications.ntfy_server_url is not an http(s) URL';
    return { enabled: n.ntfy_enabled, configured: problem === null, problem };
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    const n = this.config.notifications;
    if (!isHttpUrl(n.ntfy_server_url)) return Promise.resolve(permanent('notifications.ntfy_server_url is not an http(s) URL'));
    // JSON goes to the root URL (a server under a path prefix keeps its prefix), never to the topic's.
    const url = `${n.ntfy_server_url.replace(/\/+$/, '')}/`;
    const token = this.config.secrets.ntfy_token;
    return exchange(
      () =>
        this.http.postJson(url, message.payload, {
          timeoutMs: n.delivery_timeout_secs * 1000,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        }),
      judgeNtfyAnswer,
    );
  }
}

/** What ntfy's answer means for the delivery. */
export function judgeNtfyAnswer(answer: HttpAnswer): SendOutcome {
  if (answer.status >= 200 && answer.status < 300) return delivered();
  const detail = `ntfy answered HTTP ${answer.status}: ${ntfyError(answer.body)}`;
  if (answer.status === 408 || answer.status === 429 || answer.status >= 500) return retry(detail, retryAfterMs(answer.headers['retry-after']));
  return permanent(detail);
}

/** ntfy's error body, `{"code":40018,"http":400,"error":"invalid request: actions invalid",…}`, as "invalid request: actions invalid (code 40018)". */
function ntfyError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; error?: unknown };
    if (typeof parsed?.error === 'string') {
      return `${parsed.error.slice(0, 200)}${typeof parsed.code === 'number' ? ` (code ${parsed.code})` : ''}`;
    }
  } catch {
    // not ntfy's JSON (a proxy in front, say): its text, shortened
  }
  return body.trim().slice(0, 200) || 'no body';
}
