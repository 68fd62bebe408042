import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../../src/integrations/twilio/twilio-signature';
import { FakeTarget } from './fakes';

/**
 * Twilio's REST API as far as the service uses it, enforcing what the real one does: HTTP basic
 * auth with the account SID and auth token (401, error 20003), form-encoded bodies, E.164 numbers
 * (21211 To, 21212 From), a Body of at most 1,600 characters (21617), inline TwiML of at most
 * 4,000 characters that is a <Response> document (21205-style refusal), absolute callback URLs;
 * 201 with a Message or Call resource on success. It also plays Twilio's side of the callbacks:
 * replies to texts, keys pressed during a call and a call's end, each signed with
 * X-Twilio-Signature exactly as Twilio signs them.
 */
export const TWILIO_SID = 'AC' + '0123456789abcdef'.repeat(2);
export const TWILIO_TOKEN = 'twilio-auth-token-0123456789abcdef';
export const TWILIO_FROM = '+15005550006';
const E164 = /^\+[1-9]\d{1,14}$/;

export interface SentText {
  sid: string;
  to: string;
  from: string;
  body: string;
  /** GSM-7 segments (160 characters, 153 each when split) or UCS-2 (70, 67) as carriers count them. */
  segments: number;
}

export interface PlacedCall {
  sid: string;
  to: string;
  from: string;
  twiml: string;
  statusCallback: string;
  timeout: string | null;
  machineDetection: string | null;
  /** The <Gather action> URL of the TwiML, unescaped. */
  gatherUrl: string;
  /** What the call reads out. */
  said: string[];
}

const GSM = /^[A-Za-z0-9 \n\r.,:;!?'"()@#%&*+\-/=<>_$£¥§¿¡ÄÖÑÜäöñüàèéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤]*$/;

export function segmentsOf(body: string): number {
  const gsm = GSM.test(body);
  const length = Array.from(body).length;
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  return length <= single ? 1 : Math.ceil(length / multi);
}

function twilioError(status: number, code: number, message: string) {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }),
  };
}

const unxml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

export class TwilioFake {
  readonly texts: SentText[] = [];
  readonly calls: PlacedCall[] = [];
  readonly target: FakeTarget;
  private seq = 0;

  constructor() {
    this.target = new FakeTarget((path, body, headers) => this.judge(path, body, headers));
  }

  async listen(): Promise<this> {
    await this.target.listen();
    return this;
  }

  get url(): string {
    return this.target.url;
  }

  close(): Promise<void> {
    return this.target.close();
  }

  private judge(path: string, raw: unknown, headers: http.IncomingHttpHeaders): { status: number; body: string; headers?: Record<string, string> } {
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/(Messages|Calls)\.json$/.exec(path);
    if (!m) return twilioError(404, 20404, 'The requested resource was not found');
    const expected = `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`;
    if (m[1] !== TWILIO_SID || headers.authorization !== expected) return twilioError(401, 20003, 'Authenticate');
    if (!String(headers['content-type']).startsWith('application/x-www-form-urlencoded') || typeof raw !== 'string') {
      return twilioError(400, 20001, 'Content-Type must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(raw);
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    // Twilio's magic test number for a To it cannot reach.
    if (!E164.test(to) || to === '+15005550001') return twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!E164.test(from)) return twilioError(400, 21212, `The 'From' number ${from} is not a valid phone number.`);
    const sid = `${m[2] === 'Messages' ? 'SM' : 'CA'}${randomBytes(16).toString('hex')}`;
    if (m[2] === 'Messages') {
      const body = form.get('Body') ?? '';
      if (body === '') return twilioError(400, 21602, 'Message body is required.');
      if (Array.from(body).length > 1600) return twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
      this.texts.push({ sid, to, from, body, segments: segmentsOf(body) });
      return {
        status: 201,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sid, status: 'queued', to, from, body, num_segments: String(segmentsOf(body)) }),
      };
    }
    const twiml = form.get('Twiml') ?? '';
    if (!twiml && !form.get('Url')) return twilioError(400, 21205, 'Url or Twiml is required.');
    if (twiml.length > 4000) return twilioError(400, 21205, 'Twiml exceeds 4000 characters.');
    if (!/^(<\?xml[^>]*\?>)?<Response>[\s\S]*<\/Response>$/.test(twiml)) return twilioError(400, 12100, 'Document parse failure');
    const statusCallback = form.get('StatusCallback') ?? '';
    if (statusCallback && !/^https?:\/\//.test(statusCallback)) return twilioError(400, 21609, 'StatusCallback must be an absolute URL.');
    const gather = /<Gather[^>]*action="([^"]+)"/.exec(twiml);
    if (gather && !/^https?:\/\//.test(unxml(gather[1]))) return twilioError(400, 12100, 'Gather action must be an absolute URL here.');
    this.calls.push({
      sid,
      to,
      from,
      twiml,
      statusCallback,
      timeout: form.get('Timeout'),
      machineDetection: form.get('MachineDetection'),
      gatherUrl: gather ? unxml(gather[1]) : '',
      said: [...twiml.matchAll(/<Say>([^<]*)<\/Say>/g)].map((s) => unxml(s[1])),
    });
    return { status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sid, status: 'queued', to, from }) };
  }

  /**
   * Twilio calling the service back: signs `fields` over `publicUrl` (the URL as Twilio knows it,
   * under server.public_url) and POSTs them to the same path on `serviceBase` (where the test's
   * service listens). Answers the HTTP status and body.
   */
  async callback(
    publicUrl: string,
    serviceBase: string,
    fields: Record<string, string>,
    options: { token?: string; signature?: string } = {},
  ): Promise<{ status: number; body: string }> {
    const form = new URLSearchParams(fields);
    const signature = options.signature ?? twilioSignature(options.token ?? TWILIO_TOKEN, publicUrl, form);
    const u = new URL(publicUrl);
    const answer = await fetch(`${serviceBase}${u.pathname}${u.search}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
        'i-twilio-idempotency-token': randomBytes(8).toString('hex'),
      },
      body: form.toString(),
    });
    return { status: answer.status, body: await answer.text() };
  }

  /** A person texting the Twilio number. */
  reply(publicBase: string, serviceBase: string, from: string, body: string, extra: Record<string, string> = {}) {
    return this.callback(`${publicBase}/v1/integrations/twilio/sms`, serviceBase, {
      MessageSid: `SM${(++this.seq).toString(16).padStart(32, '0')}`,
      AccountSid: TWILIO_SID,
      From: from,
      To: TWILIO_FROM,
      Body: body,
      NumMedia: '0',
      ...extra,
    });
  }

  /** The called person pressing a key. */
  press(call: PlacedCall, serviceBase: string, digits: string) {
    return this.callback(call.gatherUrl, serviceBase, {
      CallSid: call.sid,
      AccountSid: TWILIO_SID,
      From: call.from,
      To: call.to,
      Digits: digits,
      CallStatus: 'in-progress',
      Direction: 'outbound-api',
    });
  }

  /** The call ending: completed (answered), no-answer, busy, failed, canceled. */
  end(call: PlacedCall, serviceBase: string, status: string, answeredBy?: string) {
    return this.callback(call.statusCallback, serviceBase, {
      CallSid: call.sid,
      AccountSid: TWILIO_SID,
      From: call.from,
      To: call.to,
      CallStatus: status,
      Direction: 'outbound-api',
      ...(answeredBy ? { AnsweredBy: answeredBy } : {}),
    });
  }
}
