import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, retry, SendOutcome } from '../../notification';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';
import { exchange, HttpAnswer, HttpClient, retryAfterMs } from '../http-client';
import type { SmsPayload, VoicePayload } from './twilio.render';

/** Twilio's form fields: what the stored payload carries beyond them (the incidents it names) is ours. */
type Fields = Record<string, string>;

/**
 * Twilio's REST API (2010-04-01): form-encoded POSTs with HTTP basic auth (account SID and auth
 * token). 201 is success; 429 and 5xx are retried (Twilio asks for a retry with back-off);
 * any other 4xx is permanent, with Twilio's own error code in the delivery log (21211 invalid
 * To, 21610 the person replied STOP, 21408 no permission for the region…).
 */
@Injectable()
export class TwilioApi {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: HttpClient,
  ) {}

  readiness(enabled: boolean): ChannelReadiness {
    const n = this.config.notifications;
    let problem: string | null = null;
    if (!this.config.secrets.twilio_auth_token) problem = `environment variable ${n.twilio_auth_token_env} is not set`;
    else if (!n.twilio_account_sid) problem = 'notifications.twilio_account_sid is not set';
    else if (!n.twilio_from_number) problem = 'notifications.twilio_from_number is not set';
    return { enabled, configured: problem === null, problem };
  }

  post(resource: 'Messages' | 'Calls', fields: Fields): Promise<SendOutcome> {
    const n = this.config.notifications;
    const token = this.config.secrets.twilio_auth_token;
    if (!token || !n.twilio_account_sid) return Promise.resolve(permanent(this.readiness(true).problem ?? 'Twilio is not configured'));
    const url = `${n.twilio_api_url.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(n.twilio_account_sid)}/${resource}.json`;
    const body = new URLSearchParams(fields).toString();
    return exchange(
      () =>
        this.http.postJson(url, body, {
          timeoutMs: n.delivery_timeout_secs * 1000,
          readSuccessBody: false,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            authorization: `Basic ${Buffer.from(`${n.twilio_account_sid}:${token}`).toString('base64')}`,
          },
        }),
      (answer) => (answer.status >= 200 && answer.status < 300 ? delivered() : twilioFailure(answer)),
    );
  }
}

/** Twilio's error answer: {code, message, more_info, status}. The code is what its docs and support go by. */
export function twilioFailure(answer: HttpAnswer): SendOutcome {
  let detail = `Twilio answered HTTP ${answer.status}`;
  try {
    const error = JSON.parse(answer.body) as { code?: unknown; message?: unknown };
    if (typeof error.code === 'number' || typeof error.code === 'string') detail += `: error ${String(error.code)}`;
    if (typeof error.message === 'string') detail += ` (${error.message.slice(0, 200)})`;
  } catch {
    if (answer.body) detail += `: ${answer.body.slice(0, 200)}`;
  }
  if (answer.status === 429 || answer.status >= 500) return retry(detail, retryAfterMs(answer.headers['retry-after']));
  return permanent(detail);
}

function fieldsOf<T extends object>(payload: T, keys: (keyof T & string)[]): Fields {
  const out: Fields = {};
  for (const key of keys) {
    const value = payload[key];
    if (typeof value === 'string' && value !== '') out[key] = value;
  }
  return out;
}

/** Texts: POST …/Messages.json with To, From and Body. */
@Injectable()
export class SmsProvider implements ChannelProvider {
  readonly channel = 'sms' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly twilio: TwilioApi,
  ) {}

  readiness(): ChannelReadiness {
    return this.twilio.readiness(this.config.notifications.sms_enabled);
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    return this.twilio.post('Messages', fieldsOf(JSON.parse(message.payload) as SmsPayload, ['To', 'From', 'Body']));
  }
}

/** Calls: POST …/Calls.json with the TwiML inline, and a status callback that records whether it was answered. */
@Injectable()
export class VoiceProvider implements ChannelProvider {
  readonly channel = 'voice' as const;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly twilio: TwilioApi,
  ) {}

  readiness(): ChannelReadiness {
    return this.twilio.readiness(this.config.notifications.voice_enabled);
  }

  send(message: OutboundMessage): Promise<SendOutcome> {
    const payload = JSON.parse(message.payload) as VoicePayload;
    return this.twilio.post('Calls', {
      ...fieldsOf(payload, ['To', 'From', 'Twiml', 'StatusCallback', 'Timeout', 'MachineDetection']),
      StatusCallbackMethod: 'POST',
    });
  }
}
